package main

import (
	"encoding/binary"
	"strconv"
	"time"
)

// The result columns arrive in PostgreSQL's binary format (every statement
// is executed with result format 1), so decoding is a few byte reads: no
// reflection, no type map, no intermediate Go values.

// pgEpochDays is 2000-01-01, PostgreSQL's timestamp epoch, in days since
// 1970-01-01.
const pgEpochDays = 10957

func pgBool(v []byte) bool { return v[0] != 0 }

func pgInt4(v []byte) int64 { return int64(int32(binary.BigEndian.Uint32(v))) }

// pgMicros is a binary timestamptz: microseconds since 2000-01-01 UTC.
func pgMicros(v []byte) int64 { return int64(binary.BigEndian.Uint64(v)) }

// escape marks the bytes the contract's JSON escapes. The legacy service
// used JavaScript's JSON.stringify, which escapes only quotes, backslashes
// and control characters (not <, >, & nor U+2028/2029, unlike
// encoding/json); the product does the same. Invalid UTF-8 cannot occur:
// the database is UTF8, which PostgreSQL validates on input.
var escape = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func appendString(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i, c := range s {
		if !escape[c] {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendBool(b []byte, v []byte) []byte {
	if pgBool(v) {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

func appendInt4(b []byte, v []byte) []byte { return strconv.AppendInt(b, pgInt4(v), 10) }

// dates remembers the last day appendTime wrote: a room's timestamps and
// its participants' mostly fall on one day, so the calendar arithmetic runs
// about once a room. The zero value has nothing cached.
type dates struct {
	valid bool
	day   int64 // days since 2000-01-01
	text  [11]byte
}

// appendTime appends a binary timestamptz as the contract writes it,
// "2006-01-02T15:04:05.000Z" in UTC, with the milliseconds truncated (not
// rounded), as time.Format truncates them in the product.
func (d *dates) appendTime(b []byte, v []byte) []byte {
	us := pgMicros(v)
	ms := floorDiv(us, 1000)
	days := floorDiv(ms, 86_400_000)
	msOfDay := ms - days*86_400_000
	if !d.valid || d.day != days {
		year, month, day := civil(days + pgEpochDays)
		if year < 0 || year > 9999 {
			// Outside the fixed four-digit width the product falls back to
			// time.Format's own rendering; so does this, for the same bytes.
			t := time.UnixMicro(us + pgEpochDays*86_400_000_000).UTC()
			b = append(b, '"')
			b = t.AppendFormat(b, "2006-01-02T15:04:05.000Z")
			return append(b, '"')
		}
		d.valid, d.day = true, days
		d.text = [11]byte{
			byte('0' + year/1000), byte('0' + year/100%10), byte('0' + year/10%10), byte('0' + year%10), '-',
			byte('0' + month/10), byte('0' + month%10), '-',
			byte('0' + day/10), byte('0' + day%10), 'T'}
	}
	hour, minute := msOfDay/3_600_000, msOfDay/60_000%60
	sec, milli := msOfDay/1000%60, msOfDay%1000
	b = append(b, '"')
	b = append(b, d.text[:]...)
	return append(b,
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+milli/100), byte('0'+milli/10%10), byte('0'+milli%10), 'Z', '"')
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's civil_from_days).
func civil(z int64) (year, month, day int64) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day = doy - (153*mp+2)/5 + 1
	month = mp + 3
	if mp >= 10 {
		month = mp - 9
	}
	year = yoe + era*400
	if month <= 2 {
		year++
	}
	return year, month, day
}
