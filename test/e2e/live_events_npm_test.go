package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// graphqlWSDir holds the pinned graphql-ws npm client (make test installs
// it with npm ci).
const graphqlWSDir = "../graphql-ws"

// npmSubscriber is the graphql-ws npm client following a room
// (test/graphql-ws/subscribe.mjs), reporting what it receives.
type npmSubscriber struct {
	t     *testing.T
	lines chan npmLine
}

type npmLine struct {
	Connected bool            `json:"connected"`
	Next      *gqlResponse    `json:"next"`
	Error     json.RawMessage `json:"error"`
	Complete  bool            `json:"complete"`
	at        time.Time
}

func startNPMSubscriber(t *testing.T, baseURL, token, roomID string) *npmSubscriber {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(graphqlWSDir, "node_modules", "graphql-ws", "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("graphql-ws client not installed (%v): run make test, which installs it", err)
		}
		t.Skipf("graphql-ws client not installed (%v): run make test or npm ci --prefix %s", err, graphqlWSDir)
	}
	cmd := exec.Command(node, "subscribe.mjs", "ws"+strings.TrimPrefix(baseURL, "http")+"/query", token, roomID)
	cmd.Dir = graphqlWSDir
	cmd.Stderr = testWriter{t}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	s := &npmSubscriber{t: t, lines: make(chan npmLine, 64)}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var l npmLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Errorf("graphql-ws client printed %q", sc.Text())
				continue
			}
			l.at = time.Now()
			s.lines <- l
		}
	}()
	return s
}

func (s *npmSubscriber) next(timeout time.Duration) npmLine {
	s.t.Helper()
	select {
	case l, ok := <-s.lines:
		if !ok {
			s.t.Fatal("graphql-ws client exited")
		}
		return l
	case <-time.After(timeout):
		s.t.Fatalf("graphql-ws client reported nothing within %s", timeout)
	}
	return npmLine{}
}

// The README's client, the graphql-ws npm package, follows a room on one
// instance while another makes the changes: every event, in order, within
// a second, then complete. A bad token is refused with 4403.
func TestLiveEvents_GraphQLWSPackageAcrossInstances(t *testing.T) {
	a, b, _ := twoInstances(t)
	host := a.register("host@example.com", "Host")
	ada := a.register("ada@example.com", "Ada")
	room := a.createRoom(host.Token, nil)

	sub := startNPMSubscriber(t, b.URL, host.Token, room.ID)
	if l := sub.next(10 * time.Second); !l.Connected {
		t.Fatalf("first report %+v, want connected", l)
	}
	waitSubscribers(t, b, 1)

	steps := []struct {
		want string
		do   func() gqlResponse
	}{
		{"PARTICIPANT_JOINED", func() gqlResponse { _, res := a.join(ada.Token, room.Code, nil); return res }},
		{"SETTINGS_CHANGED", func() gqlResponse {
			return a.updateSettings(host.Token, room.ID, map[string]any{"allowChat": false})
		}},
		{"ROOM_LOCKED", func() gqlResponse { return a.updateSettings(host.Token, room.ID, map[string]any{"isLocked": true}) }},
		{"ROOM_ENDED", func() gqlResponse { return a.endRoom(host.Token, room.ID) }},
	}
	for _, step := range steps {
		sent := time.Now()
		mustSucceed(t, step.want, step.do())
		l := sub.next(time.Second)
		if l.Next == nil {
			t.Fatalf("%s: graphql-ws reported %+v", step.want, l)
		}
		var data struct {
			RoomEvents struct {
				Type        string
				Participant *struct{ User struct{ DisplayName string } }
			}
		}
		l.Next.decode(t, &data)
		if data.RoomEvents.Type != step.want {
			t.Fatalf("got %s, want %s", data.RoomEvents.Type, step.want)
		}
		if step.want == "PARTICIPANT_JOINED" && data.RoomEvents.Participant.User.DisplayName != "Ada" {
			t.Fatalf("joined: %+v", data.RoomEvents.Participant)
		}
		t.Logf("%s received %v after its mutation was sent", step.want, l.at.Sub(sent).Round(100*time.Microsecond))
	}
	if l := sub.next(time.Second); !l.Complete {
		t.Fatalf("after ROOM_ENDED graphql-ws reported %+v, want complete", l)
	}

	refused := startNPMSubscriber(t, b.URL, host.Token+"x", room.ID)
	if l := refused.next(10 * time.Second); string(l.Error) != "4403" {
		t.Fatalf("bad token: graphql-ws reported %+v, want error 4403", l)
	}
}
