// Command loadgen drives one HTTP request shape at a server from a separate
// process: a fixed number of connections, a warm-up, then a fixed measured
// window. Before loading it checks the answer is complete (so a fast wrong
// answer can never count). Over the window it also samples the CPU time of
// the server process and of PostgreSQL (see cpu.go), and it prints one JSON
// line of results.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/neuronmeet/api/bench/internal/ref"
)

type result struct {
	Name     string  `json:"name"`
	Round    int     `json:"round"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	Bytes    int     `json:"bytes"`
	RPS      float64 `json:"rps"`
	P50ms    float64 `json:"p50_ms"`
	P90ms    float64 `json:"p90_ms"`
	P99ms    float64 `json:"p99_ms"`
	// CPU per request over the window, in milliseconds: the server process
	// (all threads) and the benchmark database's PostgreSQL backends.
	ServerCPUms float64 `json:"server_cpu_ms"`
	PGCPUms     float64 `json:"pg_cpu_ms"`
	// Noise: CPU of other PostgreSQL work and of everything on the machine
	// that is neither the server, its backends nor this load generator, in
	// cores (1.0 = one core busy all window), and the 1-minute load average.
	PGOtherCores float64 `json:"pg_other_cores"`
	ForeignCores float64 `json:"foreign_cores"`
	LoadgenCores float64 `json:"loadgen_cores"`
	LoadAvg      float64 `json:"loadavg"`
	PGLost       int     `json:"pg_backends_lost,omitempty"`
}

func main() {
	var (
		name        = flag.String("name", "load", "label for the result")
		url         = flag.String("url", "", "target URL")
		body        = flag.String("body", "", "POST this body (GET when empty)")
		token       = flag.String("token", "", "bearer token")
		conns       = flag.Int("c", 32, "concurrent connections")
		warmup      = flag.Duration("warmup", 3*time.Second, "warm-up, not measured")
		duration    = flag.Duration("d", 10*time.Second, "measured window")
		wantRooms   = flag.Int("expect-rooms", -1, "fail unless the answer lists this many rooms")
		wantPeople  = flag.Int("expect-participants", -1, "fail unless the answer lists this many participants")
		wantUserKey = flag.Bool("expect-users", false, "fail unless every user participant has user.displayName and every room host.displayName")
		round       = flag.Int("round", 0, "round number, copied to the result")
		serverPID   = flag.Int("pid", 0, "server process to charge CPU to (0: none)")
		pgAdmin     = flag.String("pg-admin", "", "DSN of a database other than -pg-db, to find the backends (empty: no PostgreSQL CPU)")
		pgDB        = flag.String("pg-db", "nm_bench", "database whose backends are charged to the load")
		revalidate  = flag.Bool("revalidate", false, "send the first answer's ETag as If-None-Match; a 304 is the expected answer")
		writeShare  = flag.Float64("write-fraction", 0, "this share of requests are writes: a guest joins, then leaves, a room of -write-codes over GraphQL at -write-url")
		writeURL    = flag.String("write-url", "", "the GraphQL endpoint the writes go to")
		writeCodes  = flag.String("write-codes", "", "the codes of the rooms the writes join, comma-separated (connections take them in turn)")
		pgBenchDSN  = flag.String("write-cleanup-dsn", "", "database the writers' departed guests are deleted from, so the answer does not grow over the run")
	)
	flag.Parse()
	if *url == "" {
		fmt.Fprintln(os.Stderr, "loadgen: -url is required")
		os.Exit(2)
	}
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns:        *conns * 2,
		MaxIdleConnsPerHost: *conns * 2,
		MaxConnsPerHost:     *conns,
		DisableCompression:  true,
	}, Timeout: 30 * time.Second}
	etag := ""
	// do sends one request, reading the answer into buf (one per connection).
	do := func(buf *bytes.Buffer) error {
		req, err := newRequest(*url, *body, *token)
		if err != nil {
			return err
		}
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
			return ref.NotModifiedInto(client, req, buf)
		}
		return ref.BodyInto(client, req, buf)
	}

	var firstBuf bytes.Buffer
	err := do(&firstBuf)
	first := firstBuf.Bytes()
	if err != nil {
		fail("%s: first request: %v", *name, err)
	}
	if err := check(first, *wantRooms, *wantPeople, *wantUserKey); err != nil {
		fail("%s: answer is wrong: %v", *name, err)
	}
	if *revalidate {
		if etag, err = firstETag(client, *url, *body, *token); err != nil {
			fail("%s: %v", *name, err)
		}
	}
	var w *writer
	if *writeShare > 0 {
		if w, err = newWriter(client, *writeURL, *writeCodes, *pgBenchDSN); err != nil {
			fail("%s: %v", *name, err)
		}
		defer w.close()
	}

	probe, err := newCPUProbe(context.Background(), *serverPID, *pgAdmin, *pgDB)
	if err != nil {
		fail("%s: %v", *name, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), *warmup+*duration)
	defer cancel()
	start := time.Now()
	measureFrom := start.Add(*warmup)
	measureTo := start.Add(*warmup + *duration)
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      int
		wg        sync.WaitGroup
	)
	for conn := range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1<<14)
			var buf bytes.Buffer
			localErrs := 0
			var guest *guest // the writer's guest in the room, to leave next
			for n := 0; ctx.Err() == nil; n++ {
				t0 := time.Now()
				var err error
				if w != nil && w.due(n, *writeShare) {
					guest, err = w.write(conn, guest)
				} else {
					err = do(&buf)
				}
				t1 := time.Now()
				// Counted by completion inside the window, the span the CPU
				// samples cover: at a steady rate, work in flight at the start
				// and at the end balance out.
				if t1.Before(measureFrom) || !t1.Before(measureTo) {
					continue
				}
				if err != nil {
					localErrs++
					continue
				}
				local = append(local, t1.Sub(t0))
			}
			mu.Lock()
			latencies = append(latencies, local...)
			errs += localErrs
			mu.Unlock()
		}()
	}
	time.Sleep(time.Until(measureFrom))
	s0, err := probe.sample(context.Background())
	if err != nil {
		fail("%s: CPU sample: %v", *name, err)
	}
	time.Sleep(time.Until(measureTo))
	s1, err := probe.sample(context.Background())
	if err != nil {
		fail("%s: CPU sample: %v", *name, err)
	}
	wg.Wait()
	slices.Sort(latencies)
	win := between(s0, s1)
	res := result{
		Name:     *name,
		Round:    *round,
		Requests: len(latencies),
		Errors:   errs,
		Bytes:    len(first),
		RPS:      float64(len(latencies)) / duration.Seconds(),
		P50ms:    percentile(latencies, 0.50),
		P90ms:    percentile(latencies, 0.90),
		P99ms:    percentile(latencies, 0.99),
		LoadAvg:  loadAverage(),
		PGLost:   win.pgLost,
	}
	if n := float64(len(latencies)); n > 0 {
		res.ServerCPUms = ms(win.server) / n
		res.PGCPUms = ms(win.pg) / n
	}
	if win.seconds > 0 {
		cores := func(d time.Duration) float64 { return d.Seconds() / win.seconds }
		res.PGOtherCores = cores(win.pgAll - win.pg)
		res.ForeignCores = cores(win.busy - win.server - win.pg - win.self)
		res.LoadgenCores = cores(win.self)
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
	if errs > 0 {
		fmt.Fprintf(os.Stderr, "%s: %d requests failed\n", *name, errs)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return float64(sorted[i].Microseconds()) / 1000
}

// check verifies a GraphQL ({"data":{"me":{"rooms":[…]}}}) or REST ([…])
// answer lists the expected rooms and participants.
func check(b []byte, wantRooms, wantPeople int, wantUsers bool) error {
	type participant struct {
		ID       string          `json:"id"`
		IsActive *bool           `json:"isActive"`
		JoinedAt string          `json:"joinedAt"`
		User     json.RawMessage `json:"user"`
		UserID   *string         `json:"userId"`
	}
	type room struct {
		ID           string          `json:"id"`
		Settings     json.RawMessage `json:"settings"`
		Host         json.RawMessage `json:"host"`
		Participants []participant   `json:"participants"`
	}
	var rooms []room
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("[")) {
		if err := json.Unmarshal(b, &rooms); err != nil {
			return err
		}
	} else {
		var gql struct {
			Data struct {
				Me struct{ Rooms []room } `json:"me"`
			} `json:"data"`
			Errors []json.RawMessage `json:"errors"`
		}
		if err := json.Unmarshal(b, &gql); err != nil {
			return err
		}
		if len(gql.Errors) > 0 {
			return fmt.Errorf("GraphQL errors: %s", gql.Errors[0])
		}
		rooms = gql.Data.Me.Rooms
	}
	people := 0
	for _, r := range rooms {
		if r.ID == "" || len(r.Settings) < 10 {
			return fmt.Errorf("room %q lacks id or settings", r.ID)
		}
		for _, p := range r.Participants {
			if p.ID == "" || p.IsActive == nil || p.JoinedAt == "" {
				return fmt.Errorf("participant of room %s incomplete", r.ID)
			}
			if wantUsers && p.UserID != nil && !bytes.Contains(p.User, []byte(`"displayName":"`)) {
				return fmt.Errorf("participant %s lacks user.displayName", p.ID)
			}
		}
		if wantUsers && !bytes.Contains(r.Host, []byte(`"displayName":"`)) {
			return fmt.Errorf("room %s lacks host.displayName", r.ID)
		}
		people += len(r.Participants)
	}
	if wantRooms >= 0 && len(rooms) != wantRooms {
		return fmt.Errorf("%d rooms, want %d", len(rooms), wantRooms)
	}
	if wantPeople >= 0 && people != wantPeople {
		return fmt.Errorf("%d participants, want %d", people, wantPeople)
	}
	return nil
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", args...)
	os.Exit(1)
}
