package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Client talks to a server over HTTP as one caller: anonymous, or with a
// bearer token (WithToken). Its methods fail the test when a request cannot
// be made or answered; TryGQL is for goroutines other than the test's.
type Client struct {
	t testing.TB
	// URL is the server's base URL (http://host:port).
	URL   string
	token string
	http  *http.Client
	// checkOpenAPI holds every REST exchange to the REST shim's OpenAPI
	// document (see openapi.go); Start turns it on for every server.
	checkOpenAPI bool
}

func newClient(t testing.TB, url string) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// The concurrency tests send dozens of requests at once; the default
	// two idle connections per host would queue them.
	tr.MaxIdleConnsPerHost = 64
	t.Cleanup(tr.CloseIdleConnections)
	return &Client{t: t, URL: url, http: &http.Client{Timeout: 30 * time.Second, Transport: tr}}
}

// WithToken returns the client sending token as its bearer token ("" for
// none).
func (c *Client) WithToken(token string) *Client {
	cp := *c
	cp.token = token
	return &cp
}

// For returns the client reporting to t, for use within a subtest.
func (c *Client) For(t testing.TB) *Client {
	cp := *c
	cp.t = t
	return &cp
}

// Response is an HTTP response, read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// GQL decodes the body as a GraphQL response, failing the test if it is
// not one.
func (r Response) GQL(t testing.TB) GQLResponse {
	t.Helper()
	res, err := r.gql()
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (r Response) gql() (GQLResponse, error) {
	out := GQLResponse{Status: r.Status, Header: r.Header}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		return out, fmt.Errorf("HTTP %d, not a GraphQL response: %s", r.Status, r.Body)
	}
	return out, nil
}

// RequestOption changes one request.
type RequestOption func(*request)

type request struct {
	header http.Header
	raw    *string
	within time.Duration
}

// Header sets a request header, replacing what the client would send
// (its Content-Type, its Authorization).
func Header(key, value string) RequestOption {
	return func(r *request) { r.header.Set(key, value) }
}

// RawBody sends body exactly, instead of the JSON encoding of the body
// argument.
func RawBody(body string) RequestOption {
	return func(r *request) { r.raw = &body }
}

// Within gives up on the request (and so cancels it) after d.
func Within(d time.Duration) RequestOption {
	return func(r *request) { r.within = d }
}

// REST sends a plain HTTP request: to a REST route, a probe, /metrics, or
// GraphQL over GET. A non-nil body is sent as JSON (see RawBody); a body
// comes with Content-Type: application/json.
func (c *Client) REST(method, path string, body any, opts ...RequestOption) Response {
	c.t.Helper()
	res, err := c.send(method, path, body, opts)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return res
}

// TryREST is REST returning what went wrong instead of failing the test,
// for goroutines other than the test's.
func (c *Client) TryREST(method, path string, body any, opts ...RequestOption) (Response, error) {
	return c.send(method, path, body, opts)
}

// GQL posts a GraphQL operation to /query.
func (c *Client) GQL(query string, vars map[string]any, opts ...RequestOption) GQLResponse {
	c.t.Helper()
	res, err := c.TryGQL(query, vars, opts...)
	if err != nil {
		c.t.Fatal(err)
	}
	return res
}

// TryGQL is GQL returning what went wrong instead of failing the test.
func (c *Client) TryGQL(query string, vars map[string]any, opts ...RequestOption) (GQLResponse, error) {
	res, err := c.send(http.MethodPost, "/query", map[string]any{"query": query, "variables": vars}, opts)
	if err != nil {
		return GQLResponse{}, fmt.Errorf("POST /query %.40q: %w", strings.Join(strings.Fields(query), " "), err)
	}
	return res.gql()
}

func (c *Client) send(method, path string, body any, opts []RequestOption) (Response, error) {
	c.t.Helper()
	r := request{header: http.Header{}}
	for _, o := range opts {
		o(&r)
	}
	var payload []byte
	switch {
	case r.raw != nil:
		payload = []byte(*r.raw)
	case body != nil:
		b, err := json.Marshal(body)
		if err != nil {
			return Response{}, err
		}
		payload = b
	}
	var content io.Reader
	if r.raw != nil || body != nil {
		content = bytes.NewReader(payload)
	}
	ctx := context.Background()
	if r.within > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.within)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, content)
	if err != nil {
		return Response{}, err
	}
	if content != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, err
	}
	res := Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	if c.checkOpenAPI {
		// Errorf, not Fatalf: goroutines other than the test's send too.
		for _, p := range openAPIProblems(req, payload, res) {
			c.t.Errorf("%s", p)
		}
	}
	return res, nil
}
