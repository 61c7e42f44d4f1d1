// Command report turns the benchmark's raw results into the markdown table
// of bench/RESULTS.md, with every figure also as a ratio to the reference.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type load struct {
	Name     string  `json:"name"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	RPS      float64 `json:"rps"`
	P50      float64 `json:"p50_ms"`
	P90      float64 `json:"p90_ms"`
	P99      float64 `json:"p99_ms"`
	Key      string  `json:"key"`
	KB       int     `json:"kb"`
}

type gobench struct{ nsOp, stmts, bytesOp, allocs float64 }

func main() {
	results := flag.String("results", "", "loadgen JSON lines")
	gobenchFile := flag.String("gobench", "", "go test -bench output")
	conns := flag.Int("conns", 32, "connections used")
	duration := flag.String("duration", "", "measured window")
	flag.Parse()

	loads := map[string]load{}
	var order []string
	rss := map[string]int{}
	f, err := os.Open(*results)
	if err != nil {
		fail(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l load
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		if l.Name == "rss" {
			rss[strings.TrimSuffix(l.Key, ":")] = l.KB
			continue
		}
		loads[l.Name] = l
		order = append(order, l.Name)
	}
	gb := parseGoBench(*gobenchFile)

	ref := loads["reference"]
	fmt.Printf("# Benchmark results\n\n")
	fmt.Printf("Measured %s on %s (%d CPUs, %s), PostgreSQL %s; %d connections, %s measured after warm-up.\n\n",
		time.Now().UTC().Format("2006-01-02"), hostDesc(), runtime.NumCPU(), runtime.Version(), pgVersion(), *conns, *duration)
	fmt.Println("| load | req/s | × ref | p50 ms | p90 ms | p99 ms | p99/p50 | SQL stmts/req | allocs/req | errors |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	goName := map[string]string{"graphql-a": "graphql-a", "graphql-b": "graphql-b", "rest-c": "rest-c"}
	for _, name := range order {
		l := loads[name]
		stmts, allocs := "–", "–"
		if g, ok := gb[goName[name]]; ok {
			stmts = strconv.FormatFloat(g.stmts, 'f', 1, 64)
			allocs = strconv.FormatFloat(g.allocs, 'f', 0, 64)
		}
		if name == "reference" {
			stmts = "1"
		}
		ratio := "–"
		if ref.RPS > 0 {
			ratio = fmt.Sprintf("%.2f", l.RPS/ref.RPS)
		}
		tail := "–"
		if l.P50 > 0 {
			tail = fmt.Sprintf("%.2f", l.P99/l.P50)
		}
		fmt.Printf("| %s | %.0f | %s | %.2f | %.2f | %.2f | %s | %s | %s | %d |\n",
			name, l.RPS, ratio, l.P50, l.P90, l.P99, tail, stmts, allocs, l.Errors)
	}
	fmt.Printf("\nServer RSS: peak %.1f MB over the reference/a/b/c loads (%.1f MB after them); peak %.1f MB including the 1,000-room loads.\n",
		float64(rss["main loads VmHWM"])/1024, float64(rss["main loads VmRSS"])/1024, float64(rss["all loads VmHWM"])/1024)
	if a, b := loads["rest-c"], loads["rest-c-1000"]; a.RPS > 0 && b.RPS > 0 {
		fmt.Printf("\nScale: REST for a 1,000-room host costs %.1f× the 50-room host (answer is 20× larger).\n", a.RPS/b.RPS)
	}
	if a, b := loads["graphql-a"], loads["graphql-page-1000"]; a.RPS > 0 && b.RPS > 0 {
		fmt.Printf("Scale: me.rooms(first: 50) for the 1,000-room host costs %.2f× graphql-a for the 50-room host.\n", a.RPS/b.RPS)
	}
	fmt.Println("\nLoads: `reference` = one hand-written SQL statement building the JSON in PostgreSQL (bench/refserver);")
	fmt.Println("`graphql-a` = me.rooms with every room, settings and participant field; `graphql-b` = the same plus")
	fmt.Println("participants.user.displayName and host.displayName; `rest-c` = GET /users/me/rooms; `-1000` = a host")
	fmt.Println("with 1,000 rooms. Statements and allocations per request come from `go test -bench BenchmarkMeRooms`.")
}

var benchLine = regexp.MustCompile(`^BenchmarkMeRooms/(\S+?)-\d+\s+\d+\s+([\d.]+) ns/op\s+([\d.]+) stmts/op\s+([\d.]+) B/op\s+([\d.]+) allocs/op`)

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
