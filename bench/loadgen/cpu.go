package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// clockTick is the unit of utime/stime in /proc/<pid>/stat (USER_HZ, which
// Linux fixes at 100 for user space on every architecture Go supports here).
const clockTick = 10 * time.Millisecond

// cpuProbe samples, at the edges of the measured window, the CPU time of
// the server under load, of the PostgreSQL backends connected to the
// benchmark database, of every PostgreSQL process, of this load generator
// and of the whole machine, so each can be charged per request and the rest
// (other people's work on a shared machine) reported as noise.
type cpuProbe struct {
	serverPID int
	pg        *pgx.Conn // to the admin database, so it is not one of the counted backends
	db        string
}

type cpuSample struct {
	at       time.Time
	server   time.Duration
	backends map[int]time.Duration // the benchmark database's backends
	pgAll    time.Duration         // postmaster, its children, and its reaped children
	busy     time.Duration         // the machine, all cores
	self     time.Duration
}

func newCPUProbe(ctx context.Context, serverPID int, adminDSN, db string) (*cpuProbe, error) {
	p := &cpuProbe{serverPID: serverPID, db: db}
	if adminDSN != "" {
		conn, err := pgx.Connect(ctx, adminDSN)
		if err != nil {
			return nil, fmt.Errorf("connect %s: %w", adminDSN, err)
		}
		p.pg = conn
	}
	return p, nil
}

func (p *cpuProbe) sample(ctx context.Context) (cpuSample, error) {
	s := cpuSample{at: time.Now(), backends: map[int]time.Duration{}}
	if p.serverPID > 0 {
		st, err := readStat(p.serverPID)
		if err != nil {
			return s, fmt.Errorf("server: %w", err)
		}
		s.server = st.own
	}
	if p.pg != nil {
		var postmaster int
		rows, err := p.pg.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = $1`, p.db)
		if err != nil {
			return s, err
		}
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return s, err
		}
		for _, pid := range pids {
			if st, err := readStat(int(pid)); err == nil { // gone since the query: its delta is lost
				s.backends[int(pid)] = st.own
			}
		}
		var self int32
		if err := p.pg.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&self); err != nil {
			return s, err
		}
		st, err := readStat(int(self))
		if err != nil {
			return s, err
		}
		postmaster = st.ppid
		if s.pgAll, err = processTreeCPU(postmaster); err != nil {
			return s, err
		}
	}
	var err error
	if s.busy, err = machineBusy(); err != nil {
		return s, err
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return s, nil
}

// window is the CPU spent between two samples.
type window struct {
	seconds  float64
	server   time.Duration
	pg       time.Duration // the benchmark database's backends
	pgAll    time.Duration
	busy     time.Duration
	self     time.Duration
	pgLost   int // backends that existed at the start and not at the end
	pgJoined int // backends that appeared during the window (counted whole)
}

func between(a, b cpuSample) window {
	w := window{
		seconds: b.at.Sub(a.at).Seconds(),
		server:  b.server - a.server,
		pgAll:   b.pgAll - a.pgAll,
		busy:    b.busy - a.busy,
		self:    b.self - a.self,
	}
	for pid, end := range b.backends {
		start, ok := a.backends[pid]
		if !ok {
			w.pgJoined++
		}
		w.pg += end - start
	}
	for pid := range a.backends {
		if _, ok := b.backends[pid]; !ok {
			w.pgLost++
		}
	}
	return w
}

type procStat struct {
	ppid int
	own  time.Duration // utime + stime, all threads
	kids time.Duration // cutime + cstime: reaped children
}

func readStat(pid int) (procStat, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(raw)
}

// parseStat reads /proc/<pid>/stat; the command name may hold spaces and
// parentheses, so fields are counted from the last ')'.
func parseStat(raw []byte) (procStat, error) {
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("malformed stat")
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("malformed stat")
	}
	n := func(k int) int64 { v, _ := strconv.ParseInt(f[k], 10, 64); return v }
	// f[0] is field 3 (state): ppid is field 4, utime..cstime fields 14-17.
	return procStat{
		ppid: int(n(1)),
		own:  time.Duration(n(11)+n(12)) * clockTick,
		kids: time.Duration(n(13)+n(14)) * clockTick,
	}, nil
}

// processTreeCPU is the CPU of root and its live children, plus whatever
// children it has already reaped (the postmaster reaps every backend and
// parallel worker, so short-lived ones are counted too).
func processTreeCPU(root int) (time.Duration, error) {
	st, err := readStat(root)
	if err != nil {
		return 0, err
	}
	total := st.own + st.kids
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == root {
			continue
		}
		if c, err := readStat(pid); err == nil && c.ppid == root {
			total += c.own
		}
	}
	return total, nil
}

// machineBusy is the non-idle time of all cores from /proc/stat.
func machineBusy() (time.Duration, error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(raw, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("malformed /proc/stat")
	}
	var busy int64
	for k, v := range f[1:9] { // user nice system idle iowait irq softirq steal
		if k == 3 || k == 4 {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * clockTick, nil
}

func loadAverage() float64 {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
