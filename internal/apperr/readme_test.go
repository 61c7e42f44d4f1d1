package apperr_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The README's error table is what client developers read, and the
// constants are what the server can send: neither may name a code or
// reason the other lacks. The constants are read from the source, so a
// new one cannot be left out of the comparison.
func TestREADME_ErrorTableIsTheVocabulary(t *testing.T) {
	codes, reasons := declared(t)
	if len(codes) == 0 || len(reasons) == 0 {
		t.Fatalf("found %d codes and %d reasons in the package: the parse is broken", len(codes), len(reasons))
	}
	docCodes, docReasons := documented(t, "../../README.md")
	compare(t, "Code", codes, docCodes)
	compare(t, "Reason", reasons, docReasons)
}

func compare(t *testing.T, typ string, declared, documented []string) {
	t.Helper()
	for _, c := range declared {
		if n := count(documented, c); n != 1 {
			t.Errorf("%s %s is in the README's error table %d times, want once", typ, c, n)
		}
	}
	for _, d := range documented {
		if !slices.Contains(declared, d) {
			t.Errorf("the README's error table has %s, which is no %s constant of internal/apperr", d, typ)
		}
	}
}

func count(list []string, s string) (n int) {
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// declared returns the values of the package's constants of type Code and
// of type Reason.
func declared(t *testing.T) (codes, reasons []string) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				typ, _ := vs.Type.(*ast.Ident)
				if typ == nil || (typ.Name != "Code" && typ.Name != "Reason") {
					continue
				}
				for i, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: constant %s is not a string literal", fset.Position(v.Pos()), vs.Names[i].Name)
					}
					s, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					if typ.Name == "Code" {
						codes = append(codes, s)
					} else {
						reasons = append(reasons, s)
					}
				}
			}
		}
	}
	return codes, reasons
}

// documented returns the codes and reasons of the error table: the table
// that follows the README's "### Errors" heading, a code in its first
// column, a reason in its second.
func documented(t *testing.T, path string) (codes, reasons []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n### Errors\n")
	if !ok {
		t.Fatal("README.md has no ### Errors section")
	}
	inTable := false
	for line := range strings.Lines(section) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			if strings.HasPrefix(line, "#") {
				break // the next section: the table never came
			}
			continue
		}
		inTable = true
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 2 {
			t.Fatalf("error table row %q: want code, reason, when", line)
		}
		if head := strings.TrimSpace(cells[0]); head == "code" || strings.HasPrefix(head, "-") {
			continue // the header and the separator row
		}
		if c := unquote(t, cells[0]); c != "" {
			codes = append(codes, c)
		}
		if r := unquote(t, cells[1]); r != "" {
			reasons = append(reasons, r)
		}
	}
	if !inTable {
		t.Fatal("README.md's ### Errors section has no table")
	}
	return codes, reasons
}

// unquote returns the backquoted name a cell holds ("" for an empty cell).
func unquote(t *testing.T, cell string) string {
	t.Helper()
	cell = strings.TrimSpace(cell)
	if cell == "" {
		return ""
	}
	name, ok := strings.CutPrefix(cell, "`")
	if name, ok2 := strings.CutSuffix(name, "`"); ok && ok2 && !strings.Contains(name, "`") {
		return name
	}
	t.Errorf("error table cell %q: want one `NAME` or nothing", cell)
	return ""
}
