package harness

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var binary struct {
	once sync.Once
	dir  string
	path string
	err  error
	out  []byte
}

// ServerBinary builds the real server command (package main at the module
// root) once per test run and returns its path, so a test can run and
// signal the process exactly as deployed. It is built with the race
// detector when the tests are, which reuses their compiled packages.
// TestMain removes it with RemoveServerBinary.
func ServerBinary(t testing.TB) string {
	t.Helper()
	binary.once.Do(func() {
		binary.dir, binary.err = os.MkdirTemp("", "neuronmeet-bin-")
		if binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "neuronmeet")
		args := []string{"build", "-o", binary.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command(goTool(), append(args, "github.com/neuronmeet/api")...)
		binary.out, binary.err = cmd.CombinedOutput()
	})
	if binary.err != nil {
		t.Fatalf("building the server: %v\n%s", binary.err, binary.out)
	}
	return binary.path
}

// RemoveServerBinary removes what ServerBinary built, if anything.
func RemoveServerBinary() {
	if binary.dir != "" {
		_ = os.RemoveAll(binary.dir)
	}
}

// goTool is the go command that is running these tests.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// Command runs the built server binary with args (a subcommand such as
// seed or migrate) on the default configuration with env applied, as a
// developer runs it beside a server, and returns what it wrote to stdout.
// It fails the test, showing stderr, unless the command succeeds.
func Command(t testing.TB, env map[string]string, args ...string) string {
	t.Helper()
	cmd := exec.Command(ServerBinary(t), args...)
	cmd.Env = os.Environ()
	for k, v := range Env(env) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("neuronmeet %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// process is a RealProcess server.
type process struct {
	cmd    *exec.Cmd
	exited chan error
}

func (s *Server) startProcess(o options) string {
	t := s.t
	t.Helper()
	env := s.serverEnv(o)
	// Port 0, and the "listening" line at info level, let the server bind a
	// port itself and say which: one picked here and handed over could be
	// taken by another process first.
	env["PORT"], env["LOG_LEVEL"] = "0", "info"
	var tee io.Writer
	if s.Logs != nil {
		// Debug is below info: the listening line is still written.
		env["LOG_LEVEL"], tee = "debug", s.Logs
	}
	cmd := exec.Command(ServerBinary(t), "serve")
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stderr := readServerLog(stderrPipe, tee)
	s.proc = &process{cmd: cmd, exited: make(chan error, 1)}
	go func() {
		<-stderr.done // Wait closes the pipe: read it all first
		s.proc.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("server stderr:\n%s", stderr)
		}
	})
	select {
	case addr := <-stderr.addr:
		return "http://" + addr
	case <-time.After(20 * time.Second):
		t.Fatal("the server logged no listening address within 20s")
		return ""
	}
}

// Signal sends sig to a RealProcess server.
func (s *Server) Signal(sig os.Signal) error {
	if s.proc == nil {
		s.t.Fatal("harness: Signal: only a RealProcess takes signals")
	}
	return s.proc.cmd.Process.Signal(sig)
}

// Exited receives how a RealProcess server exited, once it has.
func (s *Server) Exited() <-chan error {
	if s.proc == nil {
		s.t.Fatal("harness: Exited: only a RealProcess exits")
	}
	return s.proc.exited
}

// serverLog collects a child server's stderr and reports the address from
// its "listening" line. With CaptureLogs every line also goes to the
// Server's Logs: all the process wrote, whichever logger wrote it.
type serverLog struct {
	mu    sync.Mutex
	lines []string
	addr  chan string
	done  chan struct{} // closed once stderr has ended
}

func readServerLog(r io.Reader, tee io.Writer) *serverLog {
	l := &serverLog{addr: make(chan string, 1), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			l.mu.Lock()
			l.lines = append(l.lines, line)
			l.mu.Unlock()
			if tee != nil {
				_, _ = io.WriteString(tee, line+"\n")
			}
			var entry struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "listening" && entry.Addr != "" {
				select {
				case l.addr <- strings.Replace(entry.Addr, "[::]", "127.0.0.1", 1):
				default:
				}
			}
		}
	}()
	return l
}

func (l *serverLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
