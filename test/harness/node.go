package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var moduleRoot = sync.OnceValues(func() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
})

// Path is a path in the repository, given from its root (where go.mod is),
// whichever package's directory the test runs in.
func Path(t testing.TB, elem ...string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("finding the module root from the working directory: %v", err)
	}
	return filepath.Join(append([]string{root}, elem...)...)
}

// NodePackage returns the node command to run a script in dir (a folder of
// the repository, such as test/graphql-ws), after checking npm installed
// pkg there (make test runs npm ci). Without them the test is skipped, or
// fails under CI=true (Missing).
func NodePackage(t testing.TB, dir, pkg string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(Path(t, dir), "node_modules", pkg, "package.json"))
	}
	if err != nil {
		Missing(t, fmt.Sprintf("%s not installed in %s (%v)", pkg, dir, err), "run make test, which installs it", "run make test or npm ci --prefix "+dir)
	}
	return node
}

// Missing skips a test whose outside dependency (an npm package, a
// browser) is not installed, saying how to install it, or fails it under
// CI=true: CI must never pass by skipping.
func Missing(t testing.TB, what, ciHint, localHint string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s: %s", what, ciHint)
	}
	t.Skipf("%s: %s", what, localHint)
}

// NPMSubscriber is the graphql-ws npm client following a room
// (test/graphql-ws/subscribe.mjs), reporting what it receives.
type NPMSubscriber struct {
	t     testing.TB
	lines chan NPMReport
}

// NPMReport is one line the npm client printed.
type NPMReport struct {
	Connected bool            `json:"connected"`
	Next      *GQLResponse    `json:"next"`
	Error     json.RawMessage `json:"error"`
	Complete  bool            `json:"complete"`
	At        time.Time       `json:"-"`
}

// StartNPMSubscriber runs the graphql-ws npm client against baseURL,
// following roomID with token.
func StartNPMSubscriber(t testing.TB, baseURL, token, roomID string) *NPMSubscriber {
	t.Helper()
	return StartNPMSubscription(t, baseURL, token, `subscription($room: ID!) {
      roomEvents(roomId: $room) {
        type time
        participant { displayName user { displayName } }
        settings { allowChat }
        roomName
      }
    }`, map[string]any{"room": roomID})
}

// StartNPMSubscription runs the graphql-ws npm client against baseURL,
// subscribing to query with vars as token's caller.
func StartNPMSubscription(t testing.TB, baseURL, token, query string, vars map[string]any) *NPMSubscriber {
	t.Helper()
	const dir = "test/graphql-ws"
	node := NodePackage(t, dir, "graphql-ws")
	cmd := exec.Command(node, "subscribe.mjs", wsURL(baseURL), token, query, JSON(vars))
	cmd.Dir = Path(t, dir)
	cmd.Stderr = TestLog(t)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	s := &NPMSubscriber{t: t, lines: make(chan NPMReport, 64)}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var l NPMReport
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Errorf("graphql-ws client printed %q", sc.Text())
				continue
			}
			l.At = time.Now()
			s.lines <- l
		}
	}()
	return s
}

// Next returns the client's next report, failing the test after timeout.
func (s *NPMSubscriber) Next(timeout time.Duration) NPMReport {
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
	return NPMReport{}
}
