package e2e

// Profiles over GraphQL: Mutation.updateProfile and Query.user, the same
// rules and answers as the REST shim's PATCH /users/me and GET /users/:id,
// and cached answers that show the new profile at once.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/test/harness"
)

type profile struct {
	ID          string  `json:"id"`
	DisplayName string  `json:"displayName"`
	AvatarURL   *string `json:"avatarUrl"`
}

func decodeJSON(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

func setProfile(t *testing.T, c *harness.Client, in map[string]any) profile {
	t.Helper()
	var data struct{ UpdateProfile profile }
	c.GQL(updateProfileMutation, map[string]any{"in": in}).Decode(t, &data)
	return data.UpdateProfile
}

// updateProfile changes what is given and nothing else (avatarUrl null
// clears it), answers the user, and is what REST and me read from then on.
// Bad fields are all reported, each named, and change nothing. It needs a
// user's token.
func TestProfile_UpdateProfileChangesWhatIsGiven(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		ada := srv.Register("ada@example.com", "Ada")
		c := srv.WithToken(ada.Token)
		room := srv.WithToken(srv.Register("host@example.com", "Host").Token).CreateRoom(nil)

		got := setProfile(t, c, map[string]any{"displayName": "  Ada Lovelace ", "avatarUrl": "https://cdn.example/ada.png"})
		if got.ID != ada.ID || got.DisplayName != "Ada Lovelace" || deref(got.AvatarURL) != "https://cdn.example/ada.png" {
			t.Fatalf("updateProfile answered %+v", got)
		}
		if got := setProfile(t, c, map[string]any{"displayName": "Ada L."}); deref(got.AvatarURL) != "https://cdn.example/ada.png" {
			t.Fatalf("an absent avatarUrl changed it: %+v", got)
		}
		var rest profile
		decodeJSON(t, srv.WithToken(ada.Token).REST(http.MethodGet, "/users/"+ada.ID, nil).Body, &rest)
		if rest.DisplayName != "Ada L." || deref(rest.AvatarURL) != "https://cdn.example/ada.png" {
			t.Fatalf("GET /users/:id shows %+v", rest)
		}
		if got := setProfile(t, c, map[string]any{"avatarUrl": nil}); got.AvatarURL != nil || got.DisplayName != "Ada L." {
			t.Fatalf("avatarUrl null: %+v", got)
		}

		res := c.GQL(updateProfileMutation, map[string]any{"in": map[string]any{"displayName": "A", "avatarUrl": "ftp://cdn.example/a.png"}})
		expectError(t, "two bad fields", res, "BAD_USER_INPUT", "displayName")
		all, _ := res.Errors[0].Extensions["errors"].([]any)
		var fields []string
		for _, e := range all {
			f, _ := e.(map[string]any)["field"].(string)
			fields = append(fields, f)
		}
		if len(fields) != 2 || fields[0] != "displayName" || fields[1] != "avatarUrl" {
			t.Fatalf("extensions.errors names %v, want displayName and avatarUrl", fields)
		}
		var me struct{ Me profile }
		c.GQL(`{ me { id displayName avatarUrl } }`, nil).Decode(t, &me)
		if me.Me.DisplayName != "Ada L." || me.Me.AvatarURL != nil {
			t.Fatalf("a refused update changed the profile: %+v", me.Me)
		}

		guest, res := srv.Join(room.Code, new("Gus"))
		harness.MustSucceed(t, "a guest joins", res)
		for who, token := range map[string]string{"no token": "", "a participant token": guest.Token} {
			res := srv.WithToken(token).GQL(updateProfileMutation, map[string]any{"in": map[string]any{"displayName": "Someone"}})
			expectError(t, who, res, "UNAUTHENTICATED", "")
		}
	})
}

// user(id) is anyone's public profile to a signed-in caller, as
// GET /users/:id: id, name and avatar, never the email; null where REST
// answers 404.
func TestProfile_UserIsThePublicProfile(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		ada := srv.Register("ada@example.com", "Ada")
		eve := srv.Register("eve@example.com", "Eve")
		setProfile(t, srv.WithToken(ada.Token), map[string]any{"avatarUrl": "https://cdn.example/ada.png"})
		c := srv.WithToken(eve.Token)
		const query = `query($id: ID!) { user(id: $id) { id displayName avatarUrl } }`

		var data struct{ User *profile }
		c.GQL(query, map[string]any{"id": ada.ID}).Decode(t, &data)
		if data.User == nil || data.User.ID != ada.ID || data.User.DisplayName != "Ada" || deref(data.User.AvatarURL) != "https://cdn.example/ada.png" {
			t.Fatalf("user(ada) = %+v", data.User)
		}
		// PublicUser has no email: the document asking for it is invalid.
		if res := c.GQL(`query($id: ID!) { user(id: $id) { email } }`, map[string]any{"id": ada.ID}); res.Code() != "GRAPHQL_VALIDATION_FAILED" {
			t.Fatalf("asking a public profile's email: %+v", res.Errors)
		}
		for _, id := range []string{"cnotauser00000000000000000", "not-a-key", ada.ID + "x"} {
			if res := c.REST(http.MethodGet, "/users/"+id, nil); res.Status != http.StatusNotFound {
				t.Fatalf("GET /users/%s: %d, want the 404 user(id) mirrors", id, res.Status)
			}
			var none struct{ User *profile }
			c.GQL(query, map[string]any{"id": id}).Decode(t, &none)
			if none.User != nil {
				t.Fatalf("user(%q) = %+v, want null", id, none.User)
			}
		}
		expectError(t, "user(id) without a token", srv.For(t).GQL(query, map[string]any{"id": ada.ID}), "UNAUTHENTICATED", "")
	})
}

// A cached me answers afresh once the profile it shows changes, and so
// does the dashboard of a host whose room the user took part in.
func TestProfile_UpdateRefreshesCachedAnswers(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		host, guest, _ := seedDashboard(t, srv, "p")
		const meQuery = `query { me { id displayName avatarUrl } }`
		read := func(c *harness.Client, query string) harness.Response {
			t.Helper()
			res := c.REST(http.MethodPost, "/query", map[string]any{"query": query})
			if res.Status != http.StatusOK {
				t.Fatalf("read: %d %s", res.Status, res.Body)
			}
			return res
		}
		g := srv.WithToken(guest.Token)
		first := read(g, meQuery)
		var second harness.Response
		if n := srv.StatementsDuring(func() { second = read(g, meQuery) }); n != 1 || !bytes.Equal(first.Body, second.Body) {
			t.Fatalf("the repeated me cost %d statements (want 1: it was cached)", n)
		}
		hostC := srv.WithToken(host.Token)
		dashboard := read(hostC, dashboardQuery)
		read(hostC, dashboardQuery) // now cached

		setProfile(t, g, map[string]any{"displayName": "Renamed Guest", "avatarUrl": "https://cdn.example/g.png"})
		after := read(g, meQuery)
		var me struct{ Data struct{ Me profile } }
		decodeJSON(t, after.Body, &me)
		if me.Data.Me.DisplayName != "Renamed Guest" || deref(me.Data.Me.AvatarURL) != "https://cdn.example/g.png" {
			t.Fatalf("me after updateProfile: %s", after.Body)
		}
		if after.Header.Get("ETag") == first.Header.Get("ETag") {
			t.Fatalf("the new answer kept the old ETag %s", first.Header.Get("ETag"))
		}
		if d := read(hostC, dashboardQuery); bytes.Equal(d.Body, dashboard.Body) || !bytes.Contains(d.Body, []byte(`"Renamed Guest"`)) {
			t.Fatalf("the host's dashboard still shows the old name: %s", d.Body)
		}
	})
}
