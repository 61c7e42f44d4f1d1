package e2e

// What the contracts say, shared by the files that check them: formats,
// error bodies, key orders, and the state a refusal must leave alone.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/test/harness"
)

// The contract's formats.
var (
	timeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	codeRE = regexp.MustCompile(`^[a-z]{3}-[a-z]{3}-[a-z]{3}$`)
	cuidRE = regexp.MustCompile(`^c[a-z0-9]{24}$`)
)

// restPrefixes are the two mounts of every REST route: bare and under the
// legacy deployment's /api prefix.
var restPrefixes = []string{"", "/api"}

// contractJSON returns a contract file from testdata/contract with the
// insignificant whitespace removed (key order is kept). The documented
// contract is ../shared/contract, copied there so a fresh clone has it.
func contractJSON(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "contract", name))
	if err != nil {
		t.Fatalf("read contract file: %v", err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatalf("contract file %s is not JSON: %v", name, err)
	}
	return buf.Bytes()
}

// expectUnauthorized checks res is the contract's 401 for a missing or
// unusable sign-in: its exact body, as JSON, with a Bearer challenge.
func expectUnauthorized(t testing.TB, what string, res harness.Response) {
	t.Helper()
	want := contractJSON(t, "unauthorized.json")
	if res.Status != http.StatusUnauthorized || !bytes.Equal(res.Body, want) {
		t.Errorf("%s: HTTP %d %s, want 401 %s", what, res.Status, res.Body, want)
	}
	if got := res.Header.Get("WWW-Authenticate"); got != "Bearer" {
		t.Errorf("%s: WWW-Authenticate = %q, want the challenge Bearer", what, got)
	}
	expectJSONContentType(t, what, res)
}

func expectJSONContentType(t testing.TB, what string, res harness.Response) {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type = %q, want application/json", what, ct)
	}
}

// legacyError is the exact legacy error body for a single message.
func legacyError(status int, message string) string {
	return fmt.Sprintf(`{"message":%q,"error":%q,"statusCode":%d}`, message, http.StatusText(status), status)
}

// legacyInvalid is the exact legacy 400 body listing messages.
func legacyInvalid(messages ...string) string {
	return `{"message":` + harness.JSON(messages) + `,"error":"Bad Request","statusCode":400}`
}

func expectKeys(t testing.TB, what string, o harness.Object, want ...string) {
	t.Helper()
	if !slices.Equal(o.Keys, want) {
		t.Fatalf("%s keys = %v, want exactly %v in that order", what, o.Keys, want)
	}
}

// expectError fails unless res carries exactly one kind of error: code, and
// (when field is not "") extensions.field naming field, with a message
// that explains it. It returns the first error.
func expectError(t testing.TB, what string, res harness.GQLResponse, code, field string) harness.GQLError {
	t.Helper()
	if len(res.Errors) == 0 {
		t.Fatalf("%s: succeeded (data %s), want %s", what, res.Data, code)
	}
	e := res.Errors[0]
	if got := res.Code(); got != code {
		t.Fatalf("%s: extensions.code = %q (message %q), want %s", what, got, e.Message, code)
	}
	if field != "" {
		if got, _ := e.Extensions["field"].(string); got != field {
			t.Fatalf("%s: extensions.field = %q (message %q), want %q", what, got, e.Message, field)
		}
	}
	if e.Message == "" || e.Message == "internal error" {
		t.Fatalf("%s: message %q does not explain the %s", what, e.Message, code)
	}
	return e
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// state is what a refused operation must leave untouched: every row, and
// the host's REST view of their rooms.
type state struct{ rows, rest string }

func snapshot(t testing.TB, srv *harness.Server, hostToken string) state {
	t.Helper()
	res := srv.WithToken(hostToken).REST(http.MethodGet, "/users/me/rooms", nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET /users/me/rooms = %d %s, want 200", res.Status, res.Body)
	}
	return state{rows: dbtest.DumpTables(t, srv.DB()), rest: string(res.Body)}
}

// expectUnchanged takes the state again and fails t unless it is before;
// it returns the state it took.
func expectUnchanged(t testing.TB, srv *harness.Server, what string, before state, hostToken string) state {
	t.Helper()
	after := snapshot(t, srv, hostToken)
	if after.rows != before.rows {
		t.Errorf("%s changed the database:\nbefore:\n%s\nafter:\n%s", what, before.rows, after.rows)
	}
	if after.rest != before.rest {
		t.Errorf("%s changed GET /users/me/rooms:\nbefore: %s\nafter:  %s", what, before.rest, after.rest)
	}
	return after
}

// seedHostedRooms creates n rooms hosted by hostID, each joined by the
// host, by userID and by a guest, through the service.
func seedHostedRooms(t testing.TB, svc *service.Service, hostID, userID string, n int) {
	t.Helper()
	ctx := context.Background()
	hostCtx := auth.WithPrincipal(ctx, &auth.Principal{UserID: hostID})
	userCtx := auth.WithPrincipal(ctx, &auth.Principal{UserID: userID})
	for range n {
		room, err := svc.CreateRoom(hostCtx, service.CreateRoomInput{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []context.Context{hostCtx, userCtx, ctx} {
			var g *string
			if c == ctx {
				g = new("Guest")
			}
			if _, err := svc.JoinRoom(c, room.Room.Code, g); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// seedParticipantHistory has n guests join the room with code, and the
// first gone of them leave again.
func seedParticipantHistory(t testing.TB, svc *service.Service, code string, n, gone int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		joined, err := svc.JoinRoom(ctx, code, new(fmt.Sprintf("Guest %d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if i < gone {
			guestCtx := auth.WithPrincipal(ctx, &auth.Principal{ParticipantID: joined.Participant.ID, RoomID: joined.Participant.RoomID})
			if _, err := svc.LeaveRoom(guestCtx, joined.Participant.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// checkTimes walks a decoded response and checks every timestamp field
// (keys ending in At) is null or has the contract's format. It returns how
// many non-null ones it saw.
func checkTimes(t testing.TB, v any, path string) int {
	t.Helper()
	n := 0
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			p := path + "." + k
			if strings.HasSuffix(k, "At") {
				if child == nil {
					continue
				}
				s, ok := child.(string)
				if !ok || !timeRE.MatchString(s) {
					t.Errorf("%s = %#v, want a time like 2024-03-03T10:00:00.000Z", p, child)
				}
				n++
				continue
			}
			n += checkTimes(t, child, p)
		}
	case []any:
		for i, child := range x {
			n += checkTimes(t, child, fmt.Sprintf("%s[%d]", path, i))
		}
	}
	return n
}

// myRoom is one room of GET /users/me/rooms.
type myRoom struct {
	obj          harness.Object
	settings     harness.Object
	participants []harness.Object
}

// getMyRooms is GET path (/users/me/rooms, under a mount, with a query) as
// c's caller. It checks the contract's shape: 200 JSON, every key in its
// order, leftAt only on those who have left, the formats of times and
// codes; and returns the body and its rooms.
func getMyRooms(t testing.TB, c *harness.Client, path string) ([]byte, []myRoom) {
	t.Helper()
	res := c.REST(http.MethodGet, path, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d %s, want 200", path, res.Status, res.Body)
	}
	expectJSONContentType(t, "GET "+path, res)
	var rooms []myRoom
	for _, raw := range harness.ParseArray(t, res.Body) {
		o := harness.ParseObject(t, raw)
		expectKeys(t, "room", o, "id", "code", "name", "hostId", "isActive", "isLocked",
			"startedAt", "endedAt", "createdAt", "updatedAt", "settings", "participants")
		if code := o.Str(t, "code"); !codeRE.MatchString(code) {
			t.Errorf("room code %q is not xxx-xxx-xxx", code)
		}
		o.Str(t, "createdAt") // never null; checkTimes checks the format
		o.Str(t, "updatedAt")
		r := myRoom{obj: o, settings: harness.ParseObject(t, o.Vals["settings"])}
		expectKeys(t, "settings", r.settings, "allowChat", "allowScreenShare", "allowGuestAccess",
			"waitingRoom", "muteParticipantsOnJoin", "maxParticipants")
		for _, praw := range harness.ParseArray(t, o.Vals["participants"]) {
			p := harness.ParseObject(t, praw)
			if p.Bool(t, "isActive") {
				expectKeys(t, "present participant", p, "id", "isActive", "isHost", "joinedAt")
			} else {
				expectKeys(t, "participant who left", p, "id", "isActive", "isHost", "joinedAt", "leftAt")
				p.Str(t, "leftAt")
			}
			p.Str(t, "joinedAt")
			r.participants = append(r.participants, p)
		}
		rooms = append(rooms, r)
	}
	var all any
	_ = json.Unmarshal(res.Body, &all)
	checkTimes(t, all, "GET "+path)
	return res.Body, rooms
}

// ids lists the id of each object.
func ids(t testing.TB, objs []harness.Object) []string {
	t.Helper()
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.Str(t, "id")
	}
	return out
}

func roomIDs(t testing.TB, rooms []myRoom) []string {
	t.Helper()
	objs := make([]harness.Object, len(rooms))
	for i, r := range rooms {
		objs[i] = r.obj
	}
	return ids(t, objs)
}
