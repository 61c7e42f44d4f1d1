// Command report turns the benchmark's raw results (bench/out/results.jsonl
// from bench/loadgen, bench/diffcheck and bench/run.sh, plus the in-process
// go test -bench output) into bench/RESULTS.md: every load against both
// references, as ratios computed round by round (a load and its reference
// measured minutes apart on a shared machine would compare the machine, not
// the code), with the median and the min–max across rounds.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sample is one line of results.jsonl: a load's round (bench/loadgen), an
// RSS reading, a diffcheck comparison or a load-average reading.
type sample struct {
	Name         string  `json:"name"`
	Round        int     `json:"round"`
	Requests     int     `json:"requests"`
	Errors       int     `json:"errors"`
	Bytes        int     `json:"bytes"`
	RPS          float64 `json:"rps"`
	P50          float64 `json:"p50_ms"`
	P99          float64 `json:"p99_ms"`
	ServerCPU    float64 `json:"server_cpu_ms"`
	PGCPU        float64 `json:"pg_cpu_ms"`
	PGOther      float64 `json:"pg_other_cores"`
	Foreign      float64 `json:"foreign_cores"`
	Loadgen      float64 `json:"loadgen_cores"`
	PGLost       int     `json:"pg_backends_lost"`
	Key          string  `json:"key"`
	KB           int     `json:"kb"`
	Check        string  `json:"check"`
	Host         string  `json:"host"`
	Mode         string  `json:"mode"`
	Equal        bool    `json:"equal"`
	Detail       string  `json:"detail"`
	At           string  `json:"at"`
	LoadAvgField any     `json:"loadavg"`
}

// The loads, in the table's order, and the references each is held to:
// the 1,000-room answers to the references' answers for the same host; the
// first page of 50 of that host to the 50-room references (the same answer
// size, 50 rooms of 8 participants).
var order = []string{"ref-a", "ref-b", "ref-exact", "graphql-a", "graphql-b", "rest-c",
	"graphql-a-cached", "rest-c-cached", "ref-b-304", "graphql-a-304", "rest-c-304", "graphql-a-cached-w1", "rest-c-cached-w1",
	"ref-a-1000", "ref-b-1000", "graphql-page-1000", "rest-c-1000", "graphql-page-20", "graphql-dashboard-20"}

func refsFor(load string) (a, b string) {
	switch {
	case strings.HasSuffix(load, "-1000") && load != "graphql-page-1000":
		return "ref-a-1000", "ref-b-1000"
	case strings.HasSuffix(load, "-304"):
		// A revalidation's Go limit is refgo's (revalidate.go).
		return "ref-a", "ref-b-304"
	}
	return "ref-a", "ref-b"
}

// statements per request and round trips: the product's from the in-process
// benchmark's statement counter; the references' by construction.
var refStatements = map[string]string{
	"ref-a": "1 (1)", "ref-a-1000": "1 (1)", "ref-exact": "1 (1)",
	"ref-b": "3 (1)", "ref-b-1000": "3 (1)", "ref-b-304": "1 (1)",
}

// productBatched is how many of a product load's statements share a round
// trip with the one before: REST and GraphQL's me.rooms send the viewer
// lookup and the rooms statement together (service.ViewerRooms); the rest
// run one after another.
var productBatched = map[string]float64{"rest-c": 1, "rest-c-1000": 1, "graphql-a": 1, "graphql-b": 1, "graphql-page-1000": 1,
	"graphql-page-20": 1, "graphql-dashboard-20": 2}

var rssOf = map[string]string{"ref-a": "ref-a", "ref-a-1000": "ref-a", "ref-exact": "ref-a", "ref-b": "ref-b", "ref-b-1000": "ref-b", "ref-b-304": "ref-b",
	"graphql-a-cached": "product-cached", "rest-c-cached": "product-cached", "graphql-a-304": "product-cached",
	"rest-c-304": "product-cached", "graphql-a-cached-w1": "product-cached", "rest-c-cached-w1": "product-cached"}

type gobench struct{ nsOp, stmts, bytesOp, allocs float64 }

func main() {
	results := flag.String("results", "", "bench/out/results.jsonl")
	gobenchFile := flag.String("gobench", "", "go test -bench output")
	conns := flag.Int("conns", 32, "connections used")
	warmup := flag.String("warmup", "", "warm-up before each window")
	duration := flag.String("duration", "", "measured window")
	variants := flag.Bool("variants", false, "the variants table of bench/variants.sh instead of RESULTS.md")
	flag.Parse()

	f, err := os.Open(*results)
	if err != nil {
		fail(err)
	}
	byLoad := map[string]map[int]sample{}
	rss := map[string]int{}
	var checks []sample
	var loadavgs []string
	var seen []string
	rounds := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var s sample
		if json.Unmarshal(sc.Bytes(), &s) != nil {
			continue
		}
		switch s.Name {
		case "rss":
			rss[strings.TrimSuffix(s.Key, ":")] = s.KB
		case "diffcheck":
			checks = append(checks, s)
		case "meta":
			loadavgs = append(loadavgs, fmt.Sprintf("%s %v (%s)", s.Key, s.LoadAvgField, s.At))
		default:
			if byLoad[s.Name] == nil {
				byLoad[s.Name] = map[int]sample{}
				seen = append(seen, s.Name)
			}
			byLoad[s.Name][s.Round] = s
			rounds = max(rounds, s.Round)
		}
	}
	gb := parseGoBench(*gobenchFile)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	if *variants {
		writeVariants(w, byLoad, seen, rounds, loadavgs, *conns, *warmup, *duration)
		return
	}
	write(w, byLoad, rounds, rss, checks, loadavgs, gb, *conns, *warmup, *duration)
}

// stat is a figure's median and range across rounds.
type stat struct{ med, lo, hi float64 }

func summarize(v []float64) stat {
	if len(v) == 0 {
		return stat{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{med, s[0], s[len(s)-1]}
}

func (s stat) fmt(prec int) string {
	if s.med == 0 && s.lo == 0 && s.hi == 0 {
		return "–"
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	if f(s.lo) == f(s.hi) {
		return f(s.med)
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.med), f(s.lo), f(s.hi))
}

// perRound collects fn over the rounds where the load (and, for ratios,
// its reference) was measured.
func perRound(byLoad map[string]map[int]sample, rounds int, load, ref string, fn func(l, r sample) (float64, bool)) []float64 {
	var out []float64
	for round := 1; round <= rounds; round++ {
		l, ok := byLoad[load][round]
		if !ok {
			continue
		}
		r, ok := byLoad[ref][round]
		if ref != "" && !ok {
			continue
		}
		if v, ok := fn(l, r); ok {
			out = append(out, v)
		}
	}
	return out
}

func ratio(get func(sample) float64) func(l, r sample) (float64, bool) {
	return func(l, r sample) (float64, bool) {
		if get(r) <= 0 {
			return 0, false
		}
		return get(l) / get(r), true
	}
}

func value(get func(sample) float64) func(l, r sample) (float64, bool) {
	return func(l, _ sample) (float64, bool) { return get(l), true }
}

var (
	rps    = func(s sample) float64 { return s.RPS }
	srvCPU = func(s sample) float64 { return s.ServerCPU }
	pgCPU  = func(s sample) float64 { return s.PGCPU }
	total  = func(s sample) float64 { return s.ServerCPU + s.PGCPU }
)

func write(w io.Writer, byLoad map[string]map[int]sample, rounds int, rss map[string]int, checks []sample,
	loadavgs []string, gb map[string]gobench, conns int, warmup, duration string) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	loads := slices.DeleteFunc(slices.Clone(order), func(n string) bool { return byLoad[n] == nil })

	p("# Benchmark results\n\n")
	p("Generated by `bench/report` from `make bench`'s raw results; do not edit by hand.\n\n")
	p("Measured %s on %s (%d CPUs, %s), PostgreSQL %s, by `make bench`: %d rounds, each running every load once "+
		"(order rotated between rounds), %d connections, %s warm-up then %s measured per load. "+
		"Every ratio is computed within a round (the load and its reference minutes apart at most) and shown as the "+
		"median with the min–max over the rounds.\n\n",
		time.Now().UTC().Format("2006-01-02"), hostDesc(), runtime.NumCPU(), runtime.Version(), pgVersion(),
		rounds, conns, warmup, duration)
	p("References: **(a)** `ref-a`, one SQL statement building the JSON in PostgreSQL (bench/refserver, sql/fast.sql; " +
		"PostgreSQL's timestamp format); **(b)** `ref-b`, the Go limit (bench/refgo: prepared statements pipelined in one " +
		"round trip, binary results, the contract's exact bytes written by hand); `ref-exact`, the previous reference " +
		"(every value formatted to the contract in SQL); `ref-b-304`, the Go limit of a revalidation that is never stale " +
		"(bench/refgo/revalidate.go: the token verified, the viewer's answers version read by one prepared primary-key " +
		"lookup, 304 when If-None-Match names it), the `× (b)` of the `-304` loads. The references answer `GET /users/me/rooms`; the GraphQL loads " +
		"answer more (roomId, userId, guestName per participant, and for graphql-b the users' and hosts' names) inside " +
		"the GraphQL envelope, and are held to the same references.\n\n")

	p("## Throughput\n\n")
	p("`× (a)`, `× (b)`: the load's requests per second divided by the reference's in the same round (above 1 = faster).\n\n")
	p("| load | req/s | × (a) | × (b) | p50 ms | p99 ms | p99/p50 | errors |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, name := range loads {
		a, b := refsFor(name)
		errs := 0
		for _, s := range byLoad[name] {
			errs += s.Errors
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %d |\n", name,
			summarize(perRound(byLoad, rounds, name, "", value(rps))).fmt(0),
			summarize(perRound(byLoad, rounds, name, a, ratio(rps))).fmt(2),
			summarize(perRound(byLoad, rounds, name, b, ratio(rps))).fmt(2),
			summarize(perRound(byLoad, rounds, name, "", value(func(s sample) float64 { return s.P50 }))).fmt(1),
			summarize(perRound(byLoad, rounds, name, "", value(func(s sample) float64 { return s.P99 }))).fmt(1),
			summarize(perRound(byLoad, rounds, name, "", value(func(s sample) float64 {
				if s.P50 == 0 {
					return 0
				}
				return s.P99 / s.P50
			}))).fmt(2),
			errs)
	}

	p("\n## Cost per request\n\n")
	p("CPU milliseconds per request over the measured window: the server process (`/proc/<pid>/stat`, all threads) " +
		"and PostgreSQL (the benchmark database's backends). `× (a)`, `× (b)`: the load's cost divided by the " +
		"reference's in the same round (above 1 = costs more). Statements per request with round trips in brackets; " +
		"allocations per request and statements from the in-process `go test -bench` (`BenchmarkMeRooms` for the " +
		"product, `BenchmarkReference` for the references); RSS is the server process's peak over the run.\n\n")
	p("| load | server CPU ms | × (a) | × (b) | PostgreSQL CPU ms | × (a) | × (b) | total ms | × (a) | × (b) | SQL stmts (round trips) | allocs/req | peak RSS MB |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, name := range loads {
		a, b := refsFor(name)
		stmts, allocs := "–", "–"
		if s, ok := refStatements[name]; ok {
			stmts = s
		}
		if g, ok := gb[name]; ok {
			allocs = strconv.FormatFloat(g.allocs, 'f', 0, 64)
			if g.stmts > 0 {
				stmts = fmt.Sprintf("%s (%s)", strconv.FormatFloat(g.stmts, 'f', 0, 64), strconv.FormatFloat(g.stmts-productBatched[name], 'f', 0, 64))
			}
		}
		peak := "–"
		proc := "product"
		if p, ok := rssOf[name]; ok {
			proc = p
		}
		if kb := rss[proc+" VmHWM"]; kb > 0 {
			peak = fmt.Sprintf("%.0f", float64(kb)/1024)
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name,
			summarize(perRound(byLoad, rounds, name, "", value(srvCPU))).fmt(2),
			summarize(perRound(byLoad, rounds, name, a, ratio(srvCPU))).fmt(2),
			summarize(perRound(byLoad, rounds, name, b, ratio(srvCPU))).fmt(2),
			summarize(perRound(byLoad, rounds, name, "", value(pgCPU))).fmt(2),
			summarize(perRound(byLoad, rounds, name, a, ratio(pgCPU))).fmt(2),
			summarize(perRound(byLoad, rounds, name, b, ratio(pgCPU))).fmt(2),
			summarize(perRound(byLoad, rounds, name, "", value(total))).fmt(2),
			summarize(perRound(byLoad, rounds, name, a, ratio(total))).fmt(2),
			summarize(perRound(byLoad, rounds, name, b, ratio(total))).fmt(2),
			stmts, allocs, peak)
	}
	p("\nThe product runs as two processes: `RESPONSE_CACHE=off` for the uncached loads (its peak RSS includes the " +
		"1,000-room answers), and the default configuration, cache on, for the `-cached`, `-304` and `-w1` loads. " +
		"(a) and `ref-exact` share the refserver process.\n")

	p("\n## Machine noise\n\n")
	for _, name := range []string{"ref-a", "ref-b"} {
		s := summarize(perRound(byLoad, rounds, name, "", value(rps)))
		if s.med > 0 {
			p("- %s alone across rounds: %s req/s, a spread of %.0f %% of its median.\n", name, s.fmt(0), 100*(s.hi-s.lo)/s.med)
		}
	}
	var foreign, pgOther, lg, lavg []float64
	lost := 0
	for _, rs := range byLoad {
		for _, s := range rs {
			// /proc counts in 10 ms ticks, so an idle figure can come out a
			// tick below zero.
			foreign = append(foreign, max(0, s.Foreign))
			pgOther = append(pgOther, max(0, s.PGOther))
			lg = append(lg, s.Loadgen)
			if v, ok := s.LoadAvgField.(float64); ok {
				lavg = append(lavg, v)
			}
			lost += s.PGLost
		}
	}
	p("- Other work on the machine during the measured windows (all CPU time that is neither the server under load, "+
		"its PostgreSQL backends nor the load generator): %s cores; other PostgreSQL work among it: %s cores. "+
		"The load generator itself used %s cores of the two.\n",
		summarize(foreign).fmt(2), summarize(pgOther).fmt(2), summarize(lg).fmt(2))
	p("- 1-minute load average at the end of each window: %s", summarize(lavg).fmt(2))
	if len(loadavgs) > 0 {
		p("; at %s", strings.Join(loadavgs, ", "))
	}
	p(". With %d CPUs, a load average above %d means other work was waiting for the cores the servers and "+
		"PostgreSQL ran on; absolute figures then drop, and the ratios, taken within a round, are what to read.\n",
		runtime.NumCPU(), runtime.NumCPU())
	if lost > 0 {
		p("- %d PostgreSQL backends ended inside a window; their CPU in it is missing from the PostgreSQL figures.\n", lost)
	}

	p("\n## Exact-bytes check\n\n")
	p("Before any load, bench/diffcheck fetched `GET /users/me/rooms` from the product and the references with the same " +
		"token (the bench will not run unless every check passes): `bytes` = identical bytes; `json` = the same JSON " +
		"token for token (keys in order, every value) once timestamps are read as instants. Host `diff` " +
		"(bench/sql/diffhost.sql) holds escapes, sub-millisecond and pre-1970 timestamps, ties, a room without " +
		"participants and one without settings.\n\n")
	p("| reference | host | check | body bytes | equal |\n|---|---|---|---:|---|\n")
	for _, c := range checks {
		eq := "yes"
		if !c.Equal {
			eq = "**no**: " + c.Detail
		}
		p("| %s | %s | %s | %d | %s |\n", c.Check, c.Host, c.Mode, c.Bytes, eq)
	}

	costRatio := func(l, r sample) (float64, bool) {
		if total(r) <= 0 {
			return 0, false
		}
		return total(l) / total(r), true
	}
	small := summarize(perRound(byLoad, rounds, "rest-c-1000", "rest-c", costRatio))
	page := summarize(perRound(byLoad, rounds, "graphql-page-1000", "graphql-a", costRatio))
	if small.med > 0 || page.med > 0 {
		p("\n## Scale\n\n")
		p("- REST for the 1,000-room host costs %s× the 50-room host's request (CPU per request, server + PostgreSQL; the answer is 20× larger).\n", small.fmt(1))
		p("- `me.rooms(first: 50)` for the 1,000-room host costs %s× graphql-a for the 50-room host.\n", page.fmt(2))
	}
	// Issue #12 holds the dashboard query to 1.3 times me.rooms' cost for
	// the same rooms.
	if dash := summarize(perRound(byLoad, rounds, "graphql-dashboard-20", "graphql-page-20", costRatio)); dash.med > 0 {
		p("\n## Dashboard\n\n")
		p("- The dashboard query (`roomsConnection(first: 20)` with `totalCount`, every room field, `stats` and participants) "+
			"costs %s× `me.rooms(first: 20)` with the same room fields (CPU per request, server + PostgreSQL), and serves %s× its "+
			"requests per second.\n", dash.fmt(2),
			summarize(perRound(byLoad, rounds, "graphql-dashboard-20", "graphql-page-20", ratio(rps))).fmt(2))
	}
	p("\nLoads: `graphql-a` = me.rooms with every room, settings and participant field; `graphql-b` = the same plus " +
		"participants.user.displayName and host.displayName; `rest-c` = GET /users/me/rooms; `-1000` = the host with " +
		"1,000 rooms (8,000 participants). With the response cache on: `-cached` = the same read again (a warm cache); " +
		"`-304` = the read with the answer's ETag in If-None-Match, answered 304; `-cached-w1` = warm reads where every " +
		"hundredth request of each connection is a write (a guest joining, then leaving, one of the host's open rooms " +
		"over GraphQL), so answers keep changing.\n")
}

// writeVariants is bench/variants.sh's table: every variant with its cost
// and its ratios to reference (a)'s served variant in the same round.
func writeVariants(w io.Writer, byLoad map[string]map[int]sample, names []string, rounds int, loadavgs []string,
	conns int, warmup, duration string) {
	const base = "a:fast"
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("# Reference variants\n\n")
	p("Measured %s on %s (%d CPUs), PostgreSQL %s, by `make bench-variants`: %d rounds, order rotated, %d connections, "+
		"%s warm-up then %s measured; the 50-room host. Ratios are to `%s` within each round; median (min–max).\n\n",
		time.Now().UTC().Format("2006-01-02"), hostDesc(), runtime.NumCPU(), pgVersion(), rounds, conns, warmup, duration, base)
	p("| variant | req/s | × %s | server CPU ms | PostgreSQL CPU ms | total CPU ms | total × %s | body bytes |\n", base, base)
	p("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, name := range names {
		bytes := 0
		for _, s := range byLoad[name] {
			bytes = s.Bytes
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %d |\n", name,
			summarize(perRound(byLoad, rounds, name, "", value(rps))).fmt(0),
			summarize(perRound(byLoad, rounds, name, base, ratio(rps))).fmt(2),
			summarize(perRound(byLoad, rounds, name, "", value(srvCPU))).fmt(2),
			summarize(perRound(byLoad, rounds, name, "", value(pgCPU))).fmt(2),
			summarize(perRound(byLoad, rounds, name, "", value(total))).fmt(2),
			summarize(perRound(byLoad, rounds, name, base, ratio(total))).fmt(2),
			bytes)
	}
	var foreign []float64
	for _, rs := range byLoad {
		for _, s := range rs {
			foreign = append(foreign, max(0, s.Foreign))
		}
	}
	p("\nOther work on the machine during the windows: %s cores. Load average: %s.\n", summarize(foreign).fmt(2), strings.Join(loadavgs, ", "))
}

var benchLine = regexp.MustCompile(`^Benchmark\w+/(\S+?)-\d+\s+\d+\s+([\d.]+) ns/op(?:\s+([\d.]+) stmts/op)?\s+([\d.]+) B/op\s+([\d.]+) allocs/op`)

func parseGoBench(path string) map[string]gobench {
	out := map[string]gobench{}
	raw, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(raw), "\n") {
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		num := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
		out[m[1]] = gobench{num(m[2]), num(m[3]), num(m[4]), num(m[5])}
	}
	return out
}

func hostDesc() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOOS
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "model name") {
			_, v, _ := strings.Cut(line, ":")
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOOS
}

func pgVersion() string {
	out, err := exec.Command("psql", "--version").Output()
	if err != nil {
		return "?"
	}
	fields := strings.Fields(string(out))
	if len(fields) >= 3 {
		return fields[2] // "psql (PostgreSQL) 15.20 (Debian …)"
	}
	return "?"
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "report:", err)
	os.Exit(1)
}
