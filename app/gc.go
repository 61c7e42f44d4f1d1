package app

import (
	"log/slog"
	"runtime/debug"
)

// The server's garbage-collection defaults, for when the deployment sets
// neither of Go's own GOGC and GOMEMLIMIT.
//
// Go's default (GOGC=100) collects whenever the heap has doubled its live
// part, and this server's live heap is small (tens of MB) while every
// request allocates its answer afresh: it collected every few dozen
// requests and spent a fifth of its CPU doing it. GOGC=400 lets the heap
// grow to five times its live part first; measured on the uncached
// dashboard loads (make bench's machine, three interleaved rounds, median):
// me.rooms 0.84 -> 1.00 x reference (a), server CPU 1.12 -> 0.85 ms per
// request, REST 1.10 -> 1.22 x, at a peak RSS of 58 MB instead of 40 MB.
//
// The soft memory limit keeps that from becoming a large footprint where
// answers are big: near it the runtime collects as often as it must. It is
// the response cache's budget plus working room for requests in flight;
// make bench's 1,000-room answers (1.4 MB each, 32 at a time) peaked at
// 109 MB of RSS with 96 MiB of room, and stay under 100 MB with 64.
const (
	defaultGCPercent = 400
	gcWorkingRoom    = 64 << 20
)

// gcDefaults returns the GC percent and memory limit to set, or ok false
// when the environment chose either itself (it then governs both, as Go
// documents).
func gcDefaults(getenv func(string) string, cacheBytes int64) (percent int, limit int64, ok bool) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return 0, 0, false
	}
	return defaultGCPercent, gcWorkingRoom + cacheBytes, true
}

// tuneGC applies gcDefaults to the process. Only the server command calls
// it: the setting is process-wide, and tests run servers in their own
// process.
func tuneGC(getenv func(string) string, cfg Config, log *slog.Logger) {
	percent, limit, ok := gcDefaults(getenv, cfg.ResponseCacheMaxBytes)
	if !ok {
		return
	}
	debug.SetGCPercent(percent)
	debug.SetMemoryLimit(limit)
	log.Info("garbage collection defaults (set GOGC or GOMEMLIMIT to choose)", "gogc", percent, "gomemlimit_bytes", limit)
}
