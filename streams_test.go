package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
)

// postQuery sends a GraphQL document over a plain POST with extra headers
// and a deadline, returning the status and decoded response; a request
// still unanswered at the deadline fails the test.
func (s *testServer) postQuery(within time.Duration, token, query string, vars map[string]any, header http.Header) (int, gqlResponse) {
	s.t.Helper()
	status, res, err := s.tryPostQuery(within, token, query, vars, header)
	if err != nil {
		s.t.Fatal(err)
	}
	return status, res
}

// tryPostQuery is postQuery for other goroutines than the test's: it
// returns what went wrong instead of failing the test.
func (s *testServer) tryPostQuery(within time.Duration, token, query string, vars map[string]any, header http.Header) (int, gqlResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return 0, gqlResponse{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/query", bytes.NewReader(body))
	if err != nil {
		return 0, gqlResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, vs := range header {
		req.Header[k] = vs
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, gqlResponse{}, fmt.Errorf("POST /query %.40q: %w", strings.Join(strings.Fields(query), " "), err)
	}
	defer resp.Body.Close()
	var out gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return resp.StatusCode, out, fmt.Errorf("HTTP %d: not a GraphQL response: %w", resp.StatusCode, err)
	}
	return resp.StatusCode, out, nil
}

// A subscription over a plain POST, which answers once, is refused at
// once: held open, four of them filled the admission gate and stalled the
// whole API while the probes stayed green.
func TestStreams_SubscriptionOverPlainPOSTIsRefusedAtOnce(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := newTestServer(t, bdb, map[string]string{"MAX_CONCURRENT_REQUESTS": "1"})
		host := srv.register("host@example.com", "Host")
		room := srv.createRoom(host.Token, nil)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, res, err := srv.tryPostQuery(5*time.Second, host.Token, roomEventsQuery, map[string]any{"room": room.ID}, nil)
				if err != nil {
					t.Error(err)
				} else if status != http.StatusUnprocessableEntity || res.code() != "STREAMING_TRANSPORT_REQUIRED" || res.Data != nil && string(res.Data) != "null" {
					t.Errorf("subscription over POST: %d %+v, want 422 STREAMING_TRANSPORT_REQUIRED without data", status, res)
				}
			}()
		}
		wg.Wait()
		status, res := srv.postQuery(5*time.Second, host.Token, roomEventsQuery, map[string]any{"room": room.ID},
			http.Header{"Accept": {"application/graphql-response+json"}})
		if status != http.StatusBadRequest || res.code() != "STREAMING_TRANSPORT_REQUIRED" {
			t.Errorf("subscription over POST asking for graphql-response+json: %d %+v, want 400", status, res)
		}
		if _, res := srv.postQuery(5*time.Second, host.Token, `{ me { id } }`, nil, nil); len(res.Errors) > 0 {
			t.Fatalf("a query after the refused subscriptions: %+v", res.Errors)
		}
		if n := srv.app.events.Subscribers(); n != 0 {
			t.Fatalf("%d subscriptions were opened by refused requests", n)
		}
	})
}
