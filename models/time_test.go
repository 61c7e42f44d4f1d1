package models

import (
	"testing"
	"time"
)

func TestAppendTime_MatchesLayout(t *testing.T) {
	cases := []time.Time{
		time.Date(2024, 3, 3, 10, 0, 0, 0, time.UTC),
		time.Date(2024, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(1999, 1, 1, 0, 0, 0, 1_000_000, time.FixedZone("X", -7*3600)),
		time.Date(2026, 11, 26, 1, 2, 3, 45_600_000, time.FixedZone("Y", 5*3600+1800)),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(0, 0),
	}
	for i := 0; i < 2000; i++ {
		cases = append(cases, time.Unix(int64(i)*987_654_321%4_102_444_800, int64(i)*7_919_113%1_000_000_000))
	}
	for _, tc := range cases {
		got := string(AppendTime(nil, tc))
		want := tc.UTC().Format(TimeLayout)
		if got != want {
			t.Fatalf("AppendTime(%v) = %s, want %s", tc, got, want)
		}
	}
	if got := string(AppendTime([]byte("x"), cases[0])); got != "x2024-03-03T10:00:00.000Z" {
		t.Fatalf("AppendTime does not append: %q", got)
	}
}

func BenchmarkAppendTime(b *testing.B) {
	t := time.Date(2024, 3, 3, 10, 0, 0, 123_000_000, time.UTC)
	buf := make([]byte, 0, 32)
	for b.Loop() {
		buf = AppendTime(buf[:0], t)
	}
}
