package rest

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

// openAPIYAML describes every route Register adds. It is written by hand,
// next to the handlers, and held to them by the end-to-end tests, which
// validate every REST request and answer against it (test/harness).
//
//go:embed openapi.yaml
var openAPIYAML []byte

// OpenAPI parses and validates the document: the server serves it, the
// tests validate against it, so a document that does not load fails both.
func OpenAPI() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPIYAML)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return doc, nil
}

// openAPIJSON is the document as served: converted once, since it never
// changes while the process runs.
var openAPIJSON = sync.OnceValues(func() ([]byte, error) {
	doc, err := OpenAPI()
	if err != nil {
		return nil, err
	}
	return json.Marshal(doc)
})

// openAPI serves GET /openapi.json.
func (h *Handler) openAPI(w http.ResponseWriter, r *http.Request) {
	b, err := openAPIJSON()
	if err != nil {
		h.error(w, r, err)
		return
	}
	writeJSONBytes(w, http.StatusOK, b)
}
