package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/neuronmeet/api/internal/rest"
	"github.com/neuronmeet/api/test/harness"
)

// The REST shim's document is served as JSON on both mounts, and it is the
// document every REST exchange of these tests is validated against
// (test/harness/openapi.go).
func TestOpenAPI_ServedAsJSON(t *testing.T) {
	srv := harness.Start(t)
	doc, err := rest.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"", "/api"} {
		res := srv.REST(http.MethodGet, prefix+"/openapi.json", nil)
		if res.Status != http.StatusOK || res.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("GET %s/openapi.json: HTTP %d, Content-Type %q", prefix, res.Status, res.Header.Get("Content-Type"))
		}
		if !bytes.Equal(res.Body, want) {
			t.Errorf("GET %s/openapi.json is not internal/rest/openapi.yaml as JSON:\n%s", prefix, res.Body)
		}
	}
}
