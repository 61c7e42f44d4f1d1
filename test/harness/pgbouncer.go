package harness

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/neuronmeet/api/db/dbtest"
)

// PgBouncer is a PgBouncer in transaction mode in front of the tests'
// PostgreSQL server, run for one test as a child process. It listens on a
// unix socket in a directory of its own and on no TCP port, so no test
// races another for a port.
type PgBouncer struct {
	dir  string
	port int
}

// pgBouncerPort only names the socket file (.s.PGSQL.6432): nothing
// listens on TCP.
const pgBouncerPort = 6432

// StartPgBouncer starts PgBouncer for the rest of the test and returns once
// it accepts connections. Without the pgbouncer binary (Debian's package;
// .ci/run installs it) the test is skipped, or fails under CI=true.
func StartPgBouncer(t testing.TB) *PgBouncer {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/pgbouncer"); serr == nil {
			bin, err = "/usr/sbin/pgbouncer", nil
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pgbouncer not installed (%v): .ci/run installs it (apt-get install pgbouncer)", err)
		}
		t.Skipf("pgbouncer not installed (%v): apt-get install pgbouncer", err)
	}
	upstream, err := pgx.ParseConfig(dbtest.PostgresURL())
	if err != nil {
		t.Fatalf("parse TEST_DATABASE_URL: %v", err)
	}
	// Not t.TempDir: PgBouncer refuses to run as root, so as root it runs
	// as another user (-u), who must be able to create the socket here.
	dir, err := os.MkdirTemp("", "pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	var args []string
	if os.Geteuid() == 0 {
		name := runAsUser(t)
		u, err := user.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-u", name)
	}
	server := fmt.Sprintf("host=%s port=%d user=%s", upstream.Host, upstream.Port, upstream.User)
	if upstream.Password != "" {
		server += " password=" + upstream.Password
	}
	ini := strings.Join([]string{
		"[databases]",
		// Every database name goes to the same database upstream.
		"* = " + server,
		"[pgbouncer]",
		"listen_addr =",
		"listen_port = " + strconv.Itoa(pgBouncerPort),
		"unix_socket_dir = " + dir,
		"auth_type = trust",
		"auth_file = " + filepath.Join(dir, "userlist.txt"),
		"pool_mode = transaction",
		"max_client_conn = 500",
		// Fewer server connections than the two instances' pools hold
		// client connections: transaction pooling has to share them.
		"default_pool_size = 8",
		"admin_users = " + upstream.User,
		"",
	}, "\n")
	cfgPath := filepath.Join(dir, "pgbouncer.ini")
	for path, text := range map[string]string{
		cfgPath:                            ini,
		filepath.Join(dir, "userlist.txt"): fmt.Sprintf("%q \"\"\n", upstream.User),
	} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stderr syncBuffer
	cmd := exec.Command(bin, append(args, cfgPath)...)
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pgbouncer: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("pgbouncer's log:\n%s", stderr.String())
		}
	})
	p := &PgBouncer{dir: dir, port: pgBouncerPort}
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("pgbouncer exited at start:\n%s", stderr.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pgx.Connect(ctx, p.URL(dbtest.PostgresURL()))
		if err == nil {
			err = c.Ping(ctx)
			_ = c.Close(ctx)
		}
		cancel()
		if err == nil {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgbouncer does not accept connections: %v\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runAsUser is who PgBouncer runs as when the tests run as root: the
// PostgreSQL server's own user where it exists.
func runAsUser(t testing.TB) string {
	for _, name := range []string{"postgres", "nobody"} {
		if _, err := user.Lookup(name); err == nil {
			return name
		}
	}
	t.Fatal("pgbouncer: running as root and neither user postgres nor nobody exists to run it as")
	return ""
}

// URL is direct (a PostgreSQL URL of the tests' server) rewritten to reach
// the same database through PgBouncer.
func (p *PgBouncer) URL(direct string) string {
	u, err := url.Parse(direct)
	if err != nil {
		panic(fmt.Sprintf("pgbouncer: parse %q: %v", direct, err))
	}
	q := url.Values{"host": {p.dir}, "port": {strconv.Itoa(p.port)}, "sslmode": {"disable"}}
	return (&url.URL{Scheme: "postgres", User: u.User, Path: u.Path, RawQuery: q.Encode()}).String()
}

// syncBuffer is a bytes.Buffer a child process and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
