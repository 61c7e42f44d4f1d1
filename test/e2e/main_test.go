package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/neuronmeet/api/graph"
	"github.com/neuronmeet/api/test/harness"
)

func TestMain(m *testing.M) {
	code := m.Run()
	harness.RemoveServerBinary()
	// The servers run with GRAPHQL_FASTPATH_SHADOW=on: a fast-path answer
	// unlike gqlgen's executor's fails the run even where no test looked.
	if n := graph.FastPathMismatches(); n > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d fast-path answers differed from gqlgen's executor (each request that got one was answered an error saying how)\n", n)
		code = 1
	}
	os.Exit(code)
}
