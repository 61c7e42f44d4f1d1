package rest

import (
	"slices"
	"strings"
	"testing"
)

func TestOpenAPI_DocumentLoadsAndValidates(t *testing.T) {
	doc, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi %q, want 3.1", doc.OpenAPI)
	}
	var urls []string
	for _, s := range doc.Servers {
		urls = append(urls, s.URL)
	}
	if !slices.Equal(urls, []string{"/", "/api"}) {
		t.Errorf("servers %q, want the two mounts Register serves, / and /api", urls)
	}
	if _, err := openAPIJSON(); err != nil {
		t.Fatal(err)
	}
}

// The end-to-end tests hold every exchange they make to the document; this
// holds the route list to it too, so a route no test calls yet still needs
// its description: every pattern Register serves matches a documented
// operation, and every documented operation a pattern.
func TestOpenAPI_DescribesEveryRoute(t *testing.T) {
	doc, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	served := (&Handler{}).routes()
	for pattern, fn := range (&Handler{}).apiRoot() {
		served[pattern] = fn
	}
	for pattern := range served {
		if !slices.ContainsFunc(documented, func(op string) bool { return samePattern(pattern, op) }) {
			t.Errorf("%s is served, but openapi.yaml does not describe it", pattern)
		}
	}
	for _, op := range documented {
		matched := false
		for pattern := range served {
			matched = matched || samePattern(pattern, op)
		}
		if !matched {
			t.Errorf("openapi.yaml describes %s, which Register does not serve", op)
		}
	}
}

// samePattern reports whether a ServeMux pattern and a documented
// operation can match one request: the same method, and segment by segment
// the same text or a wildcard on either side (GET /rooms/{ref}/{sub}
// serves both GET /rooms/code/{code} and GET /rooms/{id}/participants).
func samePattern(pattern, op string) bool {
	pm, pp, _ := strings.Cut(pattern, " ")
	om, opath, _ := strings.Cut(op, " ")
	if pm != om {
		return false
	}
	a, b := strings.Split(pp, "/"), strings.Split(opath, "/")
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !strings.HasPrefix(a[i], "{") && !strings.HasPrefix(b[i], "{") {
			return false
		}
	}
	return true
}
