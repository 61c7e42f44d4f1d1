package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/neuronmeet/api/internal/playground"
	"github.com/neuronmeet/api/internal/rest"
)

// Every REST request a test sends, and the server's answer, is checked
// against the REST shim's OpenAPI document (internal/rest/openapi.yaml), so
// the document cannot drift from the code: a route, status, header or body
// key the document does not describe fails the test that met it.

// notREST are the paths the document does not describe: GraphQL (and its
// SDL), the probes, the metrics and the playground (its page, and its
// files under playground.AssetsPath).
var notREST = map[string]bool{"/query": true, "/schema.graphql": true, "/metrics": true, "/healthz": true, "/readyz": true, "/": true}

// GET /api answers the legacy root route's text/html line, which
// kin-openapi decodes only when told it is plain text.
func init() { openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder) }

// openAPIDoc is the document, loaded once for the whole test binary.
var openAPIDoc = sync.OnceValues(rest.OpenAPI)

// openAPIOptions validate what the document says, all of it: a status it
// does not list is a failure, not a pass.
var openAPIOptions = &openapi3filter.Options{
	IncludeResponseStatus: true,
	// The document's schemes are bearer tokens. Whether a token verifies is
	// the server's to say (a 401 is documented); the document says only
	// that the route wants one.
	AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
		scheme, token, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return in.NewError(errors.New("no bearer token"))
		}
		return nil
	},
}

// openAPIProblems returns how an exchange with a REST route disagrees with
// the document (nothing when it agrees): req is the request as sent, with
// its body in body, and res the answer.
func openAPIProblems(req *http.Request, body []byte, res Response) []string {
	if notREST[req.URL.Path] || strings.HasPrefix(req.URL.Path, playground.AssetsPath) {
		return nil
	}
	doc, err := openAPIDoc()
	if err != nil {
		return []string{err.Error()}
	}
	name := req.Method + " " + req.URL.RequestURI()
	route, params, err := findRoute(doc, req.Method, req.URL.Path)
	if err != nil {
		if noSuchRoute(req, res) {
			return nil
		}
		return []string{fmt.Sprintf("%s: answered %d, but the OpenAPI document has no such route (%v)", name, res.Status, err)}
	}
	if noSuchRoute(req, res) {
		return []string{fmt.Sprintf("%s: the OpenAPI document describes %s %s, but the server has no such route (HTTP %d %s)", name, route.Method, route.Path, res.Status, res.Body)}
	}

	var problems []string
	ctx := context.Background()
	sent := req.Clone(ctx)
	sent.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.RequestValidationInput{Request: sent, PathParams: params, Route: route, Options: openAPIOptions}
	refused := openapi3filter.ValidateRequest(ctx, in)
	switch {
	case refused != nil && res.Status < 400:
		problems = append(problems, fmt.Sprintf("%s: the OpenAPI document refuses the request, but the server answered %d: %s", name, res.Status, brief(refused)))
	case refused == nil && unknownKeyRefused(res):
		// The shim refuses keys it does not know; the document must say so
		// (additionalProperties: false) wherever it does.
		problems = append(problems, fmt.Sprintf("%s: the server refused an unknown key (%s), but the OpenAPI document takes the body", name, res.Body))
	}

	documented := route.Operation.Responses.Status(res.Status)
	switch {
	case documented == nil:
		// ValidateResponse passes some statuses (304) without looking.
		problems = append(problems, fmt.Sprintf("%s: HTTP %d is not in the OpenAPI document", name, res.Status))
	case len(documented.Value.Content) == 0 && len(res.Body) > 0:
		problems = append(problems, fmt.Sprintf("%s: HTTP %d has no body in the OpenAPI document, but the server sent %q", name, res.Status, res.Body))
	default:
		err := openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in,
			Status:                 res.Status,
			Header:                 res.Header,
			Body:                   io.NopCloser(bytes.NewReader(res.Body)),
			Options:                openAPIOptions,
		})
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: the answer (HTTP %d %s) disagrees with the OpenAPI document: %s", name, res.Status, res.Body, brief(err)))
		}
	}
	return problems
}

// findRoute finds the document's operation for a request as the server's
// router does: under any of the document's servers (bare and /api), a
// literal segment wins over a parameter at the first segment where two
// paths differ (GET /rooms/code/participants is the code lookup, not a
// room's participants), and a path without the method gives way to one
// with it (GET /users/me is GET /users/{id}, as PATCH /users/me is not).
// kin-openapi's routers stop at the first path that matches.
func findRoute(doc *openapi3.T, method, path string) (*routers.Route, map[string]string, error) {
	var (
		best       *routers.Route
		bestParams map[string]string
		bestSegs   []string
		pathFound  bool
	)
	for _, server := range doc.Servers {
		u, err := url.Parse(server.URL)
		if err != nil {
			return nil, nil, err
		}
		base := strings.TrimSuffix(u.Path, "/")
		rest, ok := strings.CutPrefix(path, base)
		if !ok || !strings.HasPrefix(rest, "/") {
			continue
		}
		for template, item := range doc.Paths.Map() {
			segs := strings.Split(template, "/")
			params, ok := matchPath(segs, strings.Split(rest, "/"))
			if !ok {
				continue
			}
			pathFound = true
			op := item.GetOperation(method)
			if op == nil || (best != nil && !moreSpecific(segs, bestSegs)) {
				continue
			}
			best = &routers.Route{Spec: doc, Server: server, Path: template, PathItem: item, Method: method, Operation: op}
			bestParams, bestSegs = params, segs
		}
	}
	switch {
	case best != nil:
		return best, bestParams, nil
	case pathFound:
		return nil, nil, routers.ErrMethodNotAllowed
	default:
		return nil, nil, routers.ErrPathNotFound
	}
}

func isParam(seg string) bool { return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") }

// matchPath matches a request path's segments to a template's, as
// ServeMux's {name} wildcards match: one whole, non-empty segment.
func matchPath(template, path []string) (map[string]string, bool) {
	if len(template) != len(path) {
		return nil, false
	}
	params := map[string]string{}
	for i, seg := range template {
		switch {
		case isParam(seg) && path[i] != "":
			params[strings.Trim(seg, "{}")] = path[i]
		case seg != path[i]:
			return nil, false
		}
	}
	return params, true
}

// moreSpecific reports whether template a wins over b: a literal where b
// has a parameter, at the first segment where they differ in kind.
func moreSpecific(a, b []string) bool {
	for i := range min(len(a), len(b)) {
		if pa, pb := isParam(a[i]), isParam(b[i]); pa != pb {
			return pb
		}
	}
	return false
}

// noSuchRoute reports whether res is the server's answer for a route it
// does not have: under /api (and for a room path it does not know) the
// legacy "Cannot GET /path", elsewhere Go's plain 404 or 405.
func noSuchRoute(req *http.Request, res Response) bool {
	if res.Status == http.StatusNotFound {
		var body struct{ Message string }
		if json.Unmarshal(res.Body, &body) == nil && body.Message == "Cannot "+req.Method+" "+req.URL.Path {
			return true
		}
	}
	plain := strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain")
	return plain && (res.Status == http.StatusNotFound || res.Status == http.StatusMethodNotAllowed)
}

// unknownKeyRefused reports whether res refuses a body key the route does
// not know ("property x should not exist").
func unknownKeyRefused(res Response) bool {
	if res.Status != http.StatusBadRequest {
		return false
	}
	var body struct{ Message []string }
	if json.Unmarshal(res.Body, &body) != nil {
		return false
	}
	for _, m := range body.Message {
		if strings.HasPrefix(m, "property ") && strings.HasSuffix(m, " should not exist") {
			return true
		}
	}
	return false
}

// brief is err without the schema and value kin-openapi appends: the
// message names the keyword and the path, and the test its exchange.
func brief(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\nSchema:")
	return msg
}
