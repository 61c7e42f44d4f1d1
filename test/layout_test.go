// Package test holds the end-to-end tests (test/e2e), their harness
// (test/harness) and the npm clients they drive.
package test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The README's layout table is how a new maintainer finds their way: every
// folder at the root and under internal/ has a row, and every row names
// something that exists. The root holds only the design card's files, the
// Makefile, the README and dot-files.
func TestLayout_READMETableMatchesTheTree(t *testing.T) {
	root := filepath.Join("..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	table := layoutTable(t, string(readme))

	var folders, files []string
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, "."), name == "data", name == "bin", name == "neuronmeet":
			// Dot-files, and what make run, make build and go build leave behind
			// (all three are in .gitignore).
		case e.IsDir():
			folders = append(folders, name+"/")
		default:
			files = append(files, name)
		}
	}
	internal, err := os.ReadDir(filepath.Join(root, "internal"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range internal {
		if e.IsDir() {
			folders = append(folders, "internal/"+e.Name()+"/")
		}
	}

	for _, f := range folders {
		if f != "internal/" && !table[f] {
			t.Errorf("%s has no row in the README's layout table", f)
		}
	}
	for path := range table {
		if _, err := os.Stat(filepath.Join(root, path)); err != nil {
			t.Errorf("the README's layout table names %s, which does not exist", path)
		}
	}
	allowed := []string{"server.go", "schema.graphqls", "gqlgen.yml", "go.mod", "go.sum", "tools.go", "Makefile", "README.md"}
	for _, f := range files {
		if !slices.Contains(allowed, f) {
			t.Errorf("%s at the root: only the design card's files, the Makefile and the README live there", f)
		}
	}
	if top := len(folders) - len(internal); top > 10 {
		t.Errorf("%d folders at the root, want at most 10: %v", top, folders)
	}
}

// layoutTable returns the paths in the first column of the table under
// "## Layout".
func layoutTable(t *testing.T, readme string) map[string]bool {
	t.Helper()
	_, section, ok := strings.Cut(readme, "\n## Layout\n")
	if !ok {
		t.Fatal("README.md has no ## Layout section")
	}
	if end := strings.Index(section, "\n#"); end >= 0 {
		section = section[:end]
	}
	paths := map[string]bool{}
	code := regexp.MustCompile("`([^`]+)`")
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || strings.Contains(cells[1], "---") {
			continue
		}
		for _, m := range code.FindAllStringSubmatch(cells[1], -1) {
			paths[m[1]] = true
		}
	}
	if len(paths) == 0 {
		t.Fatal("the README's layout table lists no paths")
	}
	return paths
}
