package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/neuronmeet/api/bench/internal/ref"
)

// firstETag fetches the answer once more and returns its ETag, which every
// request of a -revalidate load sends as If-None-Match.
func firstETag(client *http.Client, url, body, token string) (string, error) {
	req, err := newRequest(url, body, token)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	tag := resp.Header.Get("ETag")
	if resp.StatusCode != http.StatusOK || tag == "" {
		return "", fmt.Errorf("-revalidate: HTTP %d with ETag %q: the server must tag its answer", resp.StatusCode, tag)
	}
	return tag, nil
}

func newRequest(url, body, token string) (*http.Request, error) {
	method := http.MethodGet
	var rd io.Reader
	if body != "" {
		method, rd = http.MethodPost, bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}

// writer makes the write share of a mixed load: each write is a guest
// joining the benchmarked host's room, or the guest it let in leaving,
// which changes the host's answer as a meeting does. Departed guests are
// deleted every half second (one statement), so the answer stays the
// size the load checked.
type writer struct {
	client *http.Client
	url    string
	// codes are the rooms the guests join, one per connection in turn:
	// the rooms' capacity bounds how many guests one may hold at once.
	codes []string
	stop  context.CancelFunc
	done  chan struct{}
}

// guestName marks the writer's guests for the clean-up.
const guestName = "bench-writer"

type guest struct{ id, token string }

func newWriter(client *http.Client, url, codes, cleanupDSN string) (*writer, error) {
	if url == "" || codes == "" || cleanupDSN == "" {
		return nil, errors.New("-write-fraction needs -write-url, -write-code and -write-cleanup-dsn")
	}
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := pgx.Connect(ctx, cleanupDSN)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("writer clean-up: %w", err)
	}
	w := &writer{client: client, url: url, codes: strings.Split(codes, ","), stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer conn.Close(context.Background())
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		// Never under ctx: pgx closes a connection whose statement is
		// cancelled, and the last clean-up below must still run.
		clean := func(query string) {
			if _, err := conn.Exec(context.Background(), query, guestName); err != nil {
				fmt.Fprintf(os.Stderr, "loadgen: writer clean-up: %v\n", err)
			}
		}
		for {
			select {
			case <-ctx.Done():
				clean("DELETE FROM participants WHERE guest_name = $1") // the guests still in
				return
			case <-t.C:
				clean("DELETE FROM participants WHERE guest_name = $1 AND NOT is_active")
			}
		}
	}()
	return w, nil
}

// due reports whether a connection's nth request is a write: an even
// spread of every 1/share-th request (1 % is every hundredth).
func (w *writer) due(n int, share float64) bool {
	every := int(1/share + 0.5)
	return every > 0 && n%every == every-1
}

// write lets a guest in to connection conn's room, or lets g leave when
// there is one.
func (w *writer) write(conn int, g *guest) (*guest, error) {
	if g == nil {
		var out struct {
			Data struct {
				JoinRoom struct {
					ParticipantToken string
					Participant      struct{ ID string }
				}
			}
		}
		err := w.gql("", `mutation($code: String!, $name: String) { joinRoom(code: $code, guestName: $name) { participantToken participant { id } } }`,
			map[string]any{"code": w.codes[conn%len(w.codes)], "name": guestName}, &out)
		if err != nil {
			return nil, err
		}
		return &guest{id: out.Data.JoinRoom.Participant.ID, token: out.Data.JoinRoom.ParticipantToken}, nil
	}
	return nil, w.gql(g.token, `mutation($id: ID!) { leaveRoom(participantId: $id) { id } }`, map[string]any{"id": g.id}, nil)
}

func (w *writer) gql(token, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := newRequest(w.url, string(body), token)
	if err != nil {
		return err
	}
	b, err := ref.Body(w.client, req)
	if err != nil {
		return err
	}
	var res struct {
		Errors []json.RawMessage
	}
	if err := json.Unmarshal(b, &res); err != nil || len(res.Errors) > 0 {
		return fmt.Errorf("write: %.200s", b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (w *writer) close() {
	w.stop()
	<-w.done
}
