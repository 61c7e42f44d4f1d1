package e2e

// Zero-config development: `make seed` and `make run` with nothing set,
// as the README's first screen tells a newcomer to run them.

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/neuronmeet/api/test/harness"
)

// The token seed prints works against the server with no JWT_SECRET set
// (both keep the development secret beside the SQLite file), and still
// works after the server restarts. The server says where the secret is
// and never logs it.
func TestDevSetup_SeedTokenWorksAgainstTheServerAndAfterARestart(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"SQLITE_PATH": filepath.Join(dir, "neuronmeet.db"), "JWT_SECRET": ""}
	out := harness.Command(t, env, "seed")
	m := regexp.MustCompile(`(?m)^Authorization: Bearer (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("seed printed no bearer token:\n%s", out)
	}
	token := m[1]
	secretFile := filepath.Join(dir, "jwt-secret")
	secret, err := os.ReadFile(secretFile)
	if err != nil {
		t.Fatalf("seed kept no development secret: %v", err)
	}
	secret = []byte(strings.TrimSpace(string(secret)))
	if strings.Contains(out, string(secret)) {
		t.Error("seed printed the secret")
	}

	for _, start := range []string{"first start", "restart"} {
		srv := harness.Start(t, harness.RealProcess(), harness.CaptureLogs(), harness.WithEnv(env))
		res := srv.WithToken(token).GQL(`{ me { rooms { name } } }`, nil)
		harness.MustSucceed(t, start+": me.rooms with seed's token", res)
		var data struct {
			Me struct{ Rooms []struct{ Name string } }
		}
		res.Decode(t, &data)
		var names []string
		for _, r := range data.Me.Rooms {
			names = append(names, r.Name)
		}
		if want := []string{"Team Standup", "Design Review", "Weekly Planning"}; !slices.Equal(names, want) {
			t.Errorf("%s: rooms %v, want seed's %v", start, names, want)
		}
		logs := srv.Logs.String()
		if strings.Contains(logs, string(secret)) {
			t.Errorf("%s: the server logged the secret", start)
		}
		said := slices.ContainsFunc(srv.Logs.Records(t), func(r map[string]any) bool {
			return r["level"] == "WARN" && r["secret_file"] == secretFile
		})
		if !said {
			t.Errorf("%s: no warning naming %s in:\n%s", start, secretFile, logs)
		}
		if err := srv.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-srv.Exited():
			if err != nil {
				t.Fatalf("%s: the server exited with %v", start, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: the server did not exit within 30s of SIGTERM", start)
		}
	}
}
