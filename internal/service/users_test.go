package service_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/service"
)

// Any signed-in user can look another up; nobody else can, and an unknown
// id is NOT_FOUND. The email is shown to the user themself only.
func TestUser_VisibleToSignedInUsersWithEmailForSelfOnly(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		ada := e.user(t, "Ada")
		bob := e.user(t, "Bob")

		got, err := e.svc.User(asUser(bob.ID), ada.ID)
		mustNoErr(t, err)
		if got.ID != ada.ID || got.DisplayName != "Ada" {
			t.Fatalf("got %+v, want Ada", got)
		}
		if email := service.VisibleEmail(asUser(bob.ID), got); email != nil {
			t.Errorf("Bob sees Ada's email %q", *email)
		}
		self, err := e.svc.User(asUser(ada.ID), ada.ID)
		mustNoErr(t, err)
		if email := service.VisibleEmail(asUser(ada.ID), self); email == nil || *email != ada.Email {
			t.Errorf("Ada's own email = %v, want %q", email, ada.Email)
		}

		for name, id := range map[string]string{"unknown id": "cnosuchuser00000000000000", "NUL byte": "c\x00", "empty": ""} {
			t.Run(name, func(t *testing.T) {
				_, err := e.svc.User(asUser(bob.ID), id)
				wantErr(t, err, apperr.NotFound, "")
			})
		}
		_, err = e.svc.User(anon(), ada.ID)
		wantErr(t, err, apperr.Unauthenticated, "")
		_, err = e.svc.User(asBadToken(), ada.ID)
		wantErr(t, err, apperr.Unauthenticated, "")
	})
}

// A PATCH-style Nullable tells an absent key from null from a value.
func TestNullable_TellsAbsentFromNullFromValue(t *testing.T) {
	t.Parallel()
	cases := []struct {
		body     string
		wantSet  bool
		wantNil  bool
		wantText string
	}{
		{`{}`, false, true, ""},
		{`{"avatarUrl":null}`, true, true, ""},
		{`{"avatarUrl":"https://a.example/x.png"}`, true, false, "https://a.example/x.png"},
		{`{"avatarUrl":""}`, true, false, ""},
	}
	for _, c := range cases {
		var in service.UpdateProfileInput
		if err := json.Unmarshal([]byte(c.body), &in); err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		if in.AvatarURL.Set != c.wantSet || (in.AvatarURL.Value == nil) != c.wantNil ||
			(in.AvatarURL.Value != nil && *in.AvatarURL.Value != c.wantText) {
			t.Errorf("%s: got %+v", c.body, in.AvatarURL)
		}
	}
	var in service.UpdateProfileInput
	var typeErr *json.UnmarshalTypeError
	if err := json.Unmarshal([]byte(`{"avatarUrl":5}`), &in); !errors.As(err, &typeErr) || typeErr.Field != "avatarUrl" {
		t.Errorf("a number for avatarUrl: err %v, want a type error naming avatarUrl", err)
	}
}

// A profile update changes only the fields given; null clears the avatar.
func TestUpdateProfile_ChangesOnlyWhatIsGiven(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		ada := e.user(t, "Ada")
		ctx := asUser(ada.ID)
		load := func() (string, *string) {
			t.Helper()
			u, ok := e.loadUserByEmail(t, ada.Email)
			if !ok {
				t.Fatal("Ada vanished")
			}
			return u.DisplayName, u.AvatarURL
		}

		got, err := e.svc.UpdateProfile(ctx, service.UpdateProfileInput{
			AvatarURL: service.Nullable[string]{Set: true, Value: ptr("  https://cdn.example/ada.png ")},
		})
		mustNoErr(t, err)
		if name, avatar := load(); name != "Ada" || avatar == nil || *avatar != "https://cdn.example/ada.png" {
			t.Fatalf("after setting the avatar: %q %v, want Ada and the trimmed URL", name, avatar)
		}
		if got.AvatarURL == nil || *got.AvatarURL != "https://cdn.example/ada.png" || got.DisplayName != "Ada" {
			t.Errorf("returned %+v, want the stored profile", got)
		}

		_, err = e.svc.UpdateProfile(asUser(ada.ID), service.UpdateProfileInput{DisplayName: ptr(" Ada L. ")})
		mustNoErr(t, err)
		if name, avatar := load(); name != "Ada L." || avatar == nil {
			t.Fatalf("after renaming: %q %v, want \"Ada L.\" with the avatar kept", name, avatar)
		}

		got, err = e.svc.UpdateProfile(asUser(ada.ID), service.UpdateProfileInput{AvatarURL: service.Nullable[string]{Set: true}})
		mustNoErr(t, err)
		if name, avatar := load(); name != "Ada L." || avatar != nil || got.AvatarURL != nil {
			t.Fatalf("after clearing: %q %v (returned %v), want the name kept and no avatar", name, avatar, got.AvatarURL)
		}

		e.unchanged(t, func() {
			got, err := e.svc.UpdateProfile(asUser(ada.ID), service.UpdateProfileInput{})
			mustNoErr(t, err)
			if got.DisplayName != "Ada L." {
				t.Errorf("an empty update returned %+v", got)
			}
		})
	})
}

// Bad profile input is refused, every bad field at once, and changes
// nothing; so is an update without a user token.
func TestUpdateProfile_RejectsBadInputAndChangesNothing(t *testing.T) {
	t.Parallel()
	set := func(s string) service.Nullable[string] { return service.Nullable[string]{Set: true, Value: &s} }
	cases := []struct {
		name   string
		in     service.UpdateProfileInput
		fields []string
	}{
		{"displayName 1 char", service.UpdateProfileInput{DisplayName: ptr("A")}, []string{"displayName"}},
		{"displayName blank", service.UpdateProfileInput{DisplayName: ptr("   ")}, []string{"displayName"}},
		{"displayName 51 chars", service.UpdateProfileInput{DisplayName: ptr(strings.Repeat("é", 51))}, []string{"displayName"}},
		{"avatar empty", service.UpdateProfileInput{AvatarURL: set("")}, []string{"avatarUrl"}},
		{"avatar not a URL", service.UpdateProfileInput{AvatarURL: set("not a url")}, []string{"avatarUrl"}},
		{"avatar relative", service.UpdateProfileInput{AvatarURL: set("/img/a.png")}, []string{"avatarUrl"}},
		{"avatar ftp", service.UpdateProfileInput{AvatarURL: set("ftp://files.example/a.png")}, []string{"avatarUrl"}},
		{"avatar javascript", service.UpdateProfileInput{AvatarURL: set("javascript:alert(1)")}, []string{"avatarUrl"}},
		{"avatar without host", service.UpdateProfileInput{AvatarURL: set("https:///a.png")}, []string{"avatarUrl"}},
		{"avatar with a space", service.UpdateProfileInput{AvatarURL: set("https://a.example/a b.png")}, []string{"avatarUrl"}},
		{"avatar 2049 chars", service.UpdateProfileInput{AvatarURL: set("https://a.example/" + strings.Repeat("a", 2049-18))}, []string{"avatarUrl"}},
		{"both bad", service.UpdateProfileInput{DisplayName: ptr("x"), AvatarURL: set("nope")}, []string{"displayName", "avatarUrl"}},
	}
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		ada := e.user(t, "Ada")
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e.unchanged(t, func() {
					_, err := e.svc.UpdateProfile(asUser(ada.ID), c.in)
					got := wantInvalid(t, err, c.fields[0])
					if len(c.fields) > 1 && (len(got.All) != len(c.fields) || got.All[1].Field != c.fields[1]) {
						t.Errorf("errors %v, want one per field %v", got.Messages(), c.fields)
					}
				})
			})
		}
		e.unchanged(t, func() {
			_, err := e.svc.UpdateProfile(anon(), service.UpdateProfileInput{DisplayName: ptr("Mallory")})
			wantErr(t, err, apperr.Unauthenticated, "")
		})
		// The longest accepted URL fits the column on both dialects.
		longest := "https://a.example/" + strings.Repeat("a", 2048-18)
		_, err := e.svc.UpdateProfile(asUser(ada.ID), service.UpdateProfileInput{AvatarURL: set(longest)})
		mustNoErr(t, err)
		if u, _ := e.loadUserByEmail(t, ada.Email); u.AvatarURL == nil || *u.AvatarURL != longest {
			t.Errorf("a 2048-character avatar URL was not stored whole")
		}
	})
}
