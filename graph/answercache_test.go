package graph

import (
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// A cached answer is only as fresh as the version that covers it: every
// field reachable from a covered field must be decided, so that a field
// added later (a statistic computed up to now, another user's data) cannot
// slip into cached answers unexamined.
func TestAnswerCache_FieldsAreDecided(t *testing.T) {
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	if problems := versionedProblems(schema, versionedFields); len(problems) > 0 {
		t.Errorf("versionedFields disagrees with the schema:\n%s", strings.Join(problems, "\n"))
	}
	t.Run("a field added to the schema is reported", func(t *testing.T) {
		grown := gqlparser.MustLoadSchema(append(slices.Clone(sources), &ast.Source{Name: "grown.graphqls", Input: "extend type Room { durationSeconds: Int }"})...)
		if problems := versionedProblems(grown, versionedFields); !slices.Contains(problems, "Room.durationSeconds: not decided") {
			t.Errorf("problems: %q", problems)
		}
	})
	t.Run("a type reachable from a covered field is reported", func(t *testing.T) {
		grown := gqlparser.MustLoadSchema(append(slices.Clone(sources), &ast.Source{Name: "grown.graphqls",
			Input: "type Recording { url: String }\nextend type RoomSettings { recording: Recording }"})...)
		fields := maps.Clone(versionedFields)
		fields["RoomSettings"] = maps.Clone(fields["RoomSettings"])
		fields["RoomSettings"]["recording"] = true
		if problems := versionedProblems(grown, fields); !slices.Contains(problems, "Recording: reachable from a covered field, but not decided") {
			t.Errorf("problems: %q", problems)
		}
	})
}

// versionedProblems walks the schema from Query.me through every covered
// field, and reports the types and fields the table does not decide.
func versionedProblems(schema *ast.Schema, fields map[string]map[string]bool) []string {
	var problems []string
	seen := map[string]bool{}
	var walk func(typeName string)
	walk = func(typeName string) {
		def := schema.Types[typeName]
		if seen[typeName] || def == nil || def.Kind != ast.Object {
			return
		}
		seen[typeName] = true
		decided, ok := fields[typeName]
		if !ok {
			problems = append(problems, typeName+": reachable from a covered field, but not decided")
			return
		}
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			covered, ok := decided[f.Name]
			if !ok {
				problems = append(problems, typeName+"."+f.Name+": not decided")
				continue
			}
			if covered {
				walk(f.Type.Name())
			}
		}
		for name := range decided {
			if def.Fields.ForName(name) == nil {
				problems = append(problems, typeName+"."+name+": decided, but not in the schema")
			}
		}
	}
	walk("Query")
	sort.Strings(problems)
	return problems
}
