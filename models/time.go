package models

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// TimeLayout is the one timestamp format clients see, in GraphQL and REST
// alike: UTC, exactly three fractional digits, and a literal Z. The legacy
// NestJS service serialised dates with JavaScript's toISOString, which is
// exactly this, and clients parse it with fixed-width expectations.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime renders t in TimeLayout.
func FormatTime(t time.Time) string {
	return t.UTC().Format(TimeLayout)
}

// AppendTime appends t in TimeLayout to b. It is written out by hand
// because every list answer formats thousands of timestamps and the generic
// layout interpreter of time.Format was an eighth of a large answer's CPU;
// TestAppendTime_MatchesLayout holds it to time.Format's output.
func AppendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, TimeLayout) // outside the fixed-width range
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / int(time.Millisecond)
	return append(b,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// Timestamp is t at the precision the API exposes, in UTC. Storing
// milliseconds only means what clients read back (and page by) is exactly
// what the database compares.
func Timestamp(t time.Time) time.Time {
	return t.UTC().Truncate(time.Millisecond)
}

// Now is the current time as a Timestamp.
func Now() time.Time { return Timestamp(time.Now()) }

// MarshalTime is the gqlgen marshaller of the Time scalar.
func MarshalTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		var buf [32]byte
		b := append(buf[:0], '"')
		b = AppendTime(b, t)
		b = append(b, '"')
		_, _ = w.Write(b)
	})
}

// UnmarshalTime accepts RFC 3339 timestamps (with or without fractions).
func UnmarshalTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("time must be an RFC 3339 string, got %T", v)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time must be an RFC 3339 string: %s", strconv.Quote(s))
	}
	return t.UTC(), nil
}
