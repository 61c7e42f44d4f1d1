package clientip

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestOf(t *testing.T) {
	trusted, err := ParsePrefixes("10.0.0.0/8, 192.0.2.7, ::1")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"direct client", "203.0.113.9:5555", nil, "203.0.113.9"},
		{"untrusted peer's forwarded-for is ignored", "203.0.113.9:5555", []string{"1.2.3.4"}, "203.0.113.9"},
		{"through a trusted proxy", "10.1.2.3:80", []string{"198.51.100.4"}, "198.51.100.4"},
		{"a spoofed entry left of the real one", "10.1.2.3:80", []string{"1.1.1.1, 198.51.100.4"}, "198.51.100.4"},
		{"two trusted proxies", "10.1.2.3:80", []string{"198.51.100.4, 192.0.2.7"}, "198.51.100.4"},
		{"several headers", "10.1.2.3:80", []string{"1.1.1.1", "198.51.100.4"}, "198.51.100.4"},
		{"garbage stops the walk", "10.1.2.3:80", []string{"198.51.100.4, nonsense"}, "10.1.2.3"},
		{"only trusted hops", "10.1.2.3:80", []string{"10.9.9.9"}, "10.9.9.9"},
		{"IPv6 peer", "[2001:db8::1]:443", nil, "2001:db8::1"},
		{"IPv4-mapped IPv6", "[::ffff:203.0.113.9]:1", nil, "203.0.113.9"},
		{"trusted IPv6 loopback proxy", "[::1]:1", []string{"2001:db8::5"}, "2001:db8::5"},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.peer
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := Of(r, trusted).String(); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	// No trusted proxies configured: the header is never believed.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.1.2.3:80"
	r.Header.Set("X-Forwarded-For", "198.51.100.4")
	if got := Of(r, nil).String(); got != "10.1.2.3" {
		t.Errorf("without trusted proxies: %s", got)
	}
}

func TestParsePrefixes(t *testing.T) {
	if _, err := ParsePrefixes("10.0.0.0/8,nonsense"); err == nil {
		t.Error("nonsense accepted")
	}
	p, err := ParsePrefixes(" , 10.1.2.3/8 ,")
	if err != nil || len(p) != 1 || p[0].String() != "10.0.0.0/8" {
		t.Errorf("ParsePrefixes = %v, %v", p, err)
	}
}
