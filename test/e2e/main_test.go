package e2e

import (
	"os"
	"testing"

	"github.com/neuronmeet/api/test/harness"
)

func TestMain(m *testing.M) {
	code := m.Run()
	harness.RemoveServerBinary()
	os.Exit(code)
}
