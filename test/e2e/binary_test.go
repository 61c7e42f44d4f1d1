package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/neuronmeet/api/graph"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
	binDir    string
)

// serverBinary builds the real server command (package main at the
// module root) once per test run and returns its path, so a test can run
// and signal the process exactly as deployed. It is built with the race
// detector when the tests are, which reuses their compiled packages.
func serverBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "neuronmeet-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "neuronmeet")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command(goTool(), append(args, "github.com/neuronmeet/api")...)
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("building the server: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

// goTool is the go command that is running these tests.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	// The servers run with GRAPHQL_FASTPATH_SHADOW=on: a fast-path answer
	// unlike gqlgen's executor's fails the run even where no test looked.
	if n := graph.FastPathMismatches(); n > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d fast-path answers differed from gqlgen's executor (each request that got one was answered an error saying how)\n", n)
		code = 1
	}
	os.Exit(code)
}
