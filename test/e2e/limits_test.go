package e2e

// The GraphQL limits: what a document may cost (tokens, depth, aliases,
// complexity, body size, sign-ins), refused before anything runs; and what
// a subscription, resolved once per event per subscriber, may cost.

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/test/harness"
)

// strictLimits are small GraphQL limits, so tests can reach each one with a
// readable document.
var strictLimits = map[string]string{
	"GRAPHQL_MAX_BODY_BYTES":    "4096",
	"GRAPHQL_MAX_TOKENS":        "300",
	"GRAPHQL_MAX_DEPTH":         "5",
	"GRAPHQL_MAX_ALIASES":       "3",
	"GRAPHQL_MAX_COMPLEXITY":    "500",
	"GRAPHQL_DEFAULT_LIST_SIZE": "100",
}

// Every hostile document is refused with its own code before any resolver
// runs: the refusal costs no SQL statement and changes nothing.
func TestGraphQLLimits_RejectedDocumentsCostNoSQL(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb), harness.WithEnv(strictLimits))
		host := srv.WithToken(srv.Register("host@example.com", "Host").Token)
		loginIn := `{email: "host@example.com", password: "correct-horse"}`
		cases := []struct {
			name, query string
			vars        map[string]any
			code        string
		}{
			{"too many tokens", "{ me { " + strings.Repeat("id ", 300) + "} }", nil, "GRAPHQL_PARSE_FAILED"},
			{"too deep", `{ me { rooms(first: 1) { host { rooms(first: 1) { host { id } } } } } }`, nil, "QUERY_TOO_DEEP"},
			{"too deep through a fragment", `{ me { ...R } } fragment R on User { rooms(first: 1) { host { rooms(first: 1) { id host { id } } } } }`, nil, "QUERY_TOO_DEEP"},
			{"too many aliases", `{ a: me { id } b: me { id } c: me { id } d: me { id } }`, nil, "TOO_MANY_ALIASES"},
			{"aliases through fragments", `{ ...F ...G } fragment F on Query { a: me { id } b: me { id } } fragment G on Query { c: me { id } d: me { id } }`, nil, "TOO_MANY_ALIASES"},
			{"lists without first count as the default size", `{ me { rooms { participants { id } } } }`, nil, "QUERY_TOO_COMPLEX"},
			{"first from a variable", `query($n: Int) { me { rooms(first: $n) { participants { id } } } }`, map[string]any{"n": 100}, "QUERY_TOO_COMPLEX"},
			{"nested lists through fragments", `{ me { ...A } } fragment A on User { rooms { ...B } } fragment B on Room { participants { user { displayName } } }`, nil, "QUERY_TOO_COMPLEX"},
			{"two logins through aliases", `mutation { a: login(input: ` + loginIn + `) { accessToken } b: login(input: ` + loginIn + `) { accessToken } }`, nil, "TOO_MANY_SIGN_INS"},
			{"register and login", `mutation { register(input: {email: "x@example.com", password: "correct-horse", displayName: "Xy"}) { accessToken } login(input: ` + loginIn + `) { accessToken } }`, nil, "TOO_MANY_SIGN_INS"},
			{"one login spread twice", `mutation { ...L ...L } fragment L on Mutation { login(input: ` + loginIn + `) { accessToken } }`, nil, ""},
			{"NUL in a variable", `mutation($in: RegisterInput!) { register(input: $in) { accessToken } }`,
				map[string]any{"in": map[string]any{"email": "nul@example.com", "password": "correct-horse", "displayName": "Nu\x00l"}}, "BAD_USER_INPUT"},
			{"NUL in a literal", `mutation { createRoom(input: {name: "a\u0000b"}) { id } }`, nil, "BAD_USER_INPUT"},
			{"NUL in a literal guest name", `mutation($c: String!) { joinRoom(code: $c, guestName: "G\u0000s") { participantToken } }`,
				map[string]any{"c": "abc-def-ghi"}, "BAD_USER_INPUT"},
		}
		for _, tc := range cases {
			var res harness.GQLResponse
			spent := srv.StatementsDuring(func() { res = host.GQL(tc.query, tc.vars) })
			if tc.code == "" {
				// The same field twice through one fragment is one field: it
				// merges, so it is one login, and it runs.
				if len(res.Errors) != 0 || res.Status != http.StatusOK {
					t.Errorf("%s: HTTP %d, errors %+v; want it served", tc.name, res.Status, res.Errors)
				}
				continue
			}
			if res.Code() != tc.code || len(res.Data) != 0 && string(res.Data) != "null" {
				t.Errorf("%s: code %q, data %s, errors %+v; want %s and no data", tc.name, res.Code(), res.Data, res.Errors, tc.code)
			}
			if res.Status != http.StatusUnprocessableEntity {
				t.Errorf("%s: HTTP %d, want 422", tc.name, res.Status)
			}
			if spent != 0 {
				t.Errorf("%s: the rejected document cost %d SQL statements, want 0", tc.name, spent)
			}
		}
		// Nothing a rejected document asked for happened.
		if users, rooms := harness.CountRows(t, bdb, "users"), harness.CountRows(t, bdb, "rooms"); users != 1 || rooms != 0 {
			t.Errorf("after rejected documents: %d users, %d rooms; want 1, 0", users, rooms)
		}
	})
}

// Within the limits the same shapes are served: `first` weighs a list by
// the page asked for, so a paged query passes where an unpaged one did not.
func TestGraphQLLimits_AllowWhatFits(t *testing.T) {
	srv := harness.Start(t, harness.WithEnv(strictLimits))
	host := srv.WithToken(srv.Register("host@example.com", "Host").Token)
	host.CreateRoom(map[string]any{"name": "Standup"})
	for name, doc := range map[string]struct {
		query string
		vars  map[string]any
	}{
		"first as a literal":     {`{ me { rooms(first: 2) { participants { id } } } }`, nil},
		"first as a variable":    {`query($n: Int) { me { rooms(first: $n) { participants { id } } } }`, map[string]any{"n": 3}},
		"depth at the limit":     {`{ me { rooms(first: 1) { participants { user { id } } } } }`, nil},
		"aliases at the limit":   {`{ a: me { id } b: me { id } c: me { id } }`, nil},
		"introspection typename": {`{ __typename me { __typename id } }`, nil},
		// Each fragment spreads the next twice: expanded naively that is
		// 2^9 copies of me; merged as execution merges it, one field.
		"fragments spread twice over": {`{ ...A } fragment A on Query { ...B ...B } fragment B on Query { ...C ...C } fragment C on Query { ...D ...D } ` +
			`fragment D on Query { ...E ...E } fragment E on Query { ...G ...G } fragment G on Query { ...H ...H } fragment H on Query { ...I ...I } ` +
			`fragment I on Query { ...J ...J } fragment J on Query { me { id } }`, nil},
	} {
		if res := host.GQL(doc.query, doc.vars); res.Status != http.StatusOK || len(res.Errors) != 0 {
			t.Errorf("%s: HTTP %d, errors %+v; want it served", name, res.Status, res.Errors)
		}
	}
}

// The default limits admit the largest query the clients send, whose cost
// is exactly what the README says: me 1 + 100 rooms × (10 scalars + host 2 +
// settings 7 + participants (1 + 100 × (8 scalars + user 2))) = 102,002.
func TestGraphQLLimits_DefaultsAdmitTheBenchmarkQueries(t *testing.T) {
	bdb := dbtest.Open(t, "sqlite")
	srv := harness.Start(t, harness.WithDB(bdb))
	host := srv.Register("host@example.com", "Host")
	for _, q := range []string{benchQueryA, benchQueryB} {
		if res := srv.WithToken(host.Token).GQL(q, nil); len(res.Errors) != 0 {
			t.Errorf("default limits refuse %.40q…: %+v", q, res.Errors)
		}
	}
	for limit, wantCode := range map[string]string{"102002": "", "102001": "QUERY_TOO_COMPLEX"} {
		srv := harness.Start(t, harness.WithDB(bdb), harness.WithEnv(map[string]string{"GRAPHQL_MAX_COMPLEXITY": limit}))
		if res := srv.WithToken(host.Token).GQL(benchQueryB, nil); res.Code() != wantCode {
			t.Errorf("complexity limit %s: code %q, want %q", limit, res.Code(), wantCode)
		}
	}
}

// Bodies over the cap are answered 413 before they are read into memory,
// whether or not they announce their length.
func TestGraphQLLimits_OversizedBodyIs413(t *testing.T) {
	srv := harness.Start(t, harness.WithEnv(strictLimits))
	pad := strings.Repeat(" ", 4096)
	big := `{"query":"{ __typename }"` + pad + `}`
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(big)
		if chunked {
			body = io.MultiReader(body) // hides the length: sent chunked
		}
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/query", body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		var resp *http.Response
		spent := srv.StatementsDuring(func() { resp, err = (&http.Client{Timeout: 30 * time.Second}).Do(req) })
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var res harness.GQLResponse
		_ = json.Unmarshal(raw, &res)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || res.Code() != "PAYLOAD_TOO_LARGE" {
			t.Errorf("chunked=%v: HTTP %d %s; want 413 PAYLOAD_TOO_LARGE", chunked, resp.StatusCode, raw)
		}
		if spent != 0 {
			t.Errorf("chunked=%v: oversized body cost %d statements", chunked, spent)
		}
	}
	// Just under the cap is fine.
	ok := `{"query":"{ __typename }"` + strings.Repeat(" ", 4096-len(`{"query":"{ __typename }"}`)) + `}`
	if res := srv.GQL("", nil, harness.RawBody(ok)); res.Status != http.StatusOK || len(res.Errors) != 0 {
		t.Errorf("body of exactly the cap: HTTP %d %+v", res.Status, res.Errors)
	}
}

// The token cap is what bounds parsing: a document just under it parses.
func TestGraphQLLimits_TokenCapIsExact(t *testing.T) {
	srv := harness.Start(t, harness.WithEnv(map[string]string{"GRAPHQL_MAX_TOKENS": "10"}))
	for n, wantOK := range map[int]bool{8: true, 9: false} {
		// n names and two braces.
		q := "{" + strings.Repeat(" __typename", n) + " }"
		res := srv.GQL(q, nil)
		if ok := len(res.Errors) == 0; ok != wantOK {
			t.Errorf("%d tokens: served=%v, want %v (%+v)", n+2, ok, wantOK, res.Errors)
		}
	}
}

// Every event of a subscription is resolved once per subscriber, so a
// subscription's selection is held to GRAPHQL_MAX_SUBSCRIPTION_COMPLEXITY
// (1,000), and each event's resolution to what that leaves.

// The red team's selection: every subscriber resolving its user's rooms and
// their participants for every event. roomEvents 1 + participant (1 + user
// (1 + rooms (1 + 100 × (id, name 2 + participants (1 + 100 × 4))))):
// 40,304 (TestLimits_SubscriptionCosts).
const nestedRoomEventsQuery = `subscription($room: ID!) { roomEvents(roomId: $room) {
	participant { user { rooms { id name participants { id displayName user { displayName } } } } }
} }`

// Everything a client could want from an event: 28 (TestLimits_SubscriptionCosts).
const fullRoomEventsQuery = `subscription($room: ID!) { roomEvents(roomId: $room) {
	roomId type time roomName
	participant { id roomId userId guestName displayName isActive isHost joinedAt leftAt user { id displayName avatarUrl } }
	settings { allowChat allowScreenShare allowGuestAccess waitingRoom muteParticipantsOnJoin maxParticipants allowParticipantVideo allowParticipantAudio }
} }`

func TestSubscriptionLimits_NestedSelectionRefusedBeforeAnySQL(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		host := srv.Register("host@example.com", "Host")
		room := srv.WithToken(host.Token).CreateRoom(nil)
		vars := map[string]any{"room": room.ID}

		ws := harness.DialWS(t, srv.URL, host.Token)
		spent := srv.StatementsDuring(func() {
			if code, _ := ws.Subscribe(nestedRoomEventsQuery, vars).Refused(5 * time.Second); code != "QUERY_TOO_COMPLEX" {
				t.Errorf("over a websocket: %s, want QUERY_TOO_COMPLEX", code)
			}
			s := harness.SubscribeSSE(t, srv.URL, host.Token, nestedRoomEventsQuery, vars)
			ev, _ := s.Next(5 * time.Second)
			if ev.Event != "next" || ev.Data.Code() != "QUERY_TOO_COMPLEX" || ev.Data.Errors[0].Extensions["limit"] != 1000.0 {
				t.Errorf("over SSE: %q %+v, want QUERY_TOO_COMPLEX with the limit of 1000", ev.Event, ev.Data)
			}
			if ev, ok := s.Next(5 * time.Second); ok && ev.Event != "complete" {
				t.Errorf("SSE then sent %q", ev.Event)
			}
		})
		if spent != 0 {
			t.Errorf("the refused subscriptions cost %d SQL statements, want 0", spent)
		}
		srv.WaitSubscribers(0)
	})
}

func TestSubscriptionLimits_FullSelectionIsServed(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		host := srv.Register("host@example.com", "Host")
		ada := srv.Register("ada@example.com", "Ada")
		room := srv.WithToken(host.Token).CreateRoom(nil)
		vars := map[string]any{"room": room.ID}

		streams := srv.SubscribeBoth(host.Token, fullRoomEventsQuery, vars)
		srv.WaitSubscribers(2)
		_, res := srv.WithToken(ada.Token).Join(room.Code, nil)
		harness.MustSucceed(t, "ada joins", res)
		harness.MustSucceed(t, "chat off", srv.WithToken(host.Token).UpdateSettings(room.ID, map[string]any{"allowChat": false}))
		for _, next := range []func() harness.RoomEvent{
			func() harness.RoomEvent { return streams.Op.Event(5 * time.Second) },
			func() harness.RoomEvent { return streams.SSE.Event(5 * time.Second) },
		} {
			if e := next(); e.Type != "PARTICIPANT_JOINED" || e.Participant == nil || e.Participant.User == nil || e.Participant.User.DisplayName != "Ada" {
				t.Fatalf("got %+v, want Ada's PARTICIPANT_JOINED with her user", e)
			}
			if e := next(); e.Type != "SETTINGS_CHANGED" || e.Settings == nil || e.Settings.AllowChat {
				t.Fatalf("got %+v, want SETTINGS_CHANGED with chat off", e)
			}
		}
	})
}

// Each event is resolved within a budget of its own. roomEvents 1 + type 1
// + participant (1 + user (1 + rooms (1 + 5 × id))) costs 10 of the 20
// allowed: each event may spend 10 more, 1 per room beyond 5. The host
// steps in and out of a room four times with 8 rooms (3 each, 12 in all,
// more than one budget), then once with 16 (11: over).
func TestSubscriptionLimits_EachEventHasItsOwnBudget(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb), harness.WithEnv(map[string]string{"GRAPHQL_DEFAULT_LIST_SIZE": "5", "GRAPHQL_MAX_SUBSCRIPTION_COMPLEXITY": "20"}))
		hostUser := srv.Register("host@example.com", "Host")
		host := srv.WithToken(hostUser.Token)
		room := host.CreateRoom(nil)
		for range 7 {
			host.CreateRoom(nil)
		}
		ws := harness.DialWS(t, srv.URL, hostUser.Token)
		sub := ws.Subscribe(`subscription($room: ID!) { roomEvents(roomId: $room) { type participant { user { rooms { id } } } } }`,
			map[string]any{"room": room.ID})
		srv.WaitSubscribers(1)

		type event struct {
			RoomEvents struct {
				Type        string
				Participant struct {
					User *struct{ Rooms []struct{ ID string } }
				}
			}
		}
		next := func() (event, harness.GQLResponse) {
			t.Helper()
			m, ok := sub.Next(5 * time.Second)
			if !ok || m.Type != "next" {
				t.Fatalf("got %q %s, want an event", m.Type, m.Payload)
			}
			var e event
			res := m.Result()
			if err := json.Unmarshal(res.Data, &e); err != nil {
				t.Fatalf("event %s: %v", res.Data, err)
			}
			return e, res
		}
		stepInAndOut := func() {
			t.Helper()
			in, res := host.Join(room.Code, nil)
			harness.MustSucceed(t, "host steps in", res)
			harness.MustSucceed(t, "host steps out", host.Leave(in.ParticipantID))
		}
		for range 2 {
			stepInAndOut()
		}
		for i := range 4 {
			e, res := next()
			if len(res.Errors) != 0 || e.RoomEvents.Participant.User == nil || len(e.RoomEvents.Participant.User.Rooms) != 8 {
				t.Fatalf("event %d: %s %+v; want the host's 8 rooms", i+1, res.Data, res.Errors)
			}
		}

		for range 8 {
			host.CreateRoom(nil)
		}
		stepInAndOut()
		e, res := next()
		if res.Code() != "QUERY_TOO_COMPLEX" || e.RoomEvents.Type != "PARTICIPANT_JOINED" || e.RoomEvents.Participant.User != nil ||
			!strings.Contains(res.Errors[0].Message, "limit of 20") {
			t.Fatalf("with 16 rooms: %s %+v; want the event with QUERY_TOO_COMPLEX in place of the user", res.Data, res.Errors)
		}
	})
}
