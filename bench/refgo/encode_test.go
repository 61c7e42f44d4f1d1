package main

import (
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func micros(us int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(us)) }

// appendTime must write what time.Format writes for the instant in UTC,
// milliseconds truncated, which is what the product writes.
func TestAppendTime_MatchesTimeFormat(t *testing.T) {
	epoch := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	rng := rand.New(rand.NewPCG(1, 2))
	var cached dates
	check := func(us int64) {
		t.Helper()
		want := `"` + time.UnixMicro(epoch+us).UTC().Format("2006-01-02T15:04:05.000Z") + `"`
		var fresh dates
		if got := string(fresh.appendTime(nil, micros(us))); got != want {
			t.Fatalf("µs %d: got %s, want %s", us, got, want)
		}
		// And through the day cache, after a neighbouring instant.
		cached.appendTime(nil, micros(us-rng.Int64N(3_600_000_000)))
		if got := string(cached.appendTime(nil, micros(us))); got != want {
			t.Fatalf("µs %d: got %s, want %s", us, got, want)
		}
	}
	for _, us := range []int64{0, -1, 1, 999, 1000, -999, -1000, -1001, 86_400_000_000 - 1, -86_400_000_000} {
		check(us)
	}
	const span = 200 * 365 * 86_400_000_000 // about 1900..2100
	for range 200_000 {
		check(rng.Int64N(span) - span/2)
	}
	// Outside four-digit years the product falls back to time.Format.
	check(-2001 * 365 * 86_400_000_000)
	check(8100 * 366 * 86_400_000_000)
}

// appendString escapes as JSON.stringify does: quotes, backslashes and
// control characters only, with the short forms where JSON has them.
func TestAppendString_EscapesLikeJSONStringify(t *testing.T) {
	for in, want := range map[string]string{
		"":                 `""`,
		"plain":            `"plain"`,
		`a"b\c/d`:          `"a\"b\\c/d"`,
		"\n\r\t\b\f":       `"\n\r\t\b\f"`,
		"\x00\x01\x1f\x7f": `"\u0000\u0001\u001f` + "\x7f" + `"`,
		"<&> é 😀 \u2028":   "\"<&> é 😀 \u2028\"",
	} {
		if got := string(appendString(nil, []byte(in))); got != want {
			t.Errorf("%q: got %s, want %s", in, got, want)
		}
	}
	long := strings.Repeat("x", 1000) + `"`
	if got := string(appendString(nil, []byte(long))); got != `"`+long[:1000]+`\""` {
		t.Errorf("long string: got %.20s…", got)
	}
}
