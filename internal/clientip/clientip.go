// Package clientip finds the address a request comes from and carries it
// in the request context, for per-client rate limits and logs.
package clientip

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

type key struct{}

// With returns ctx carrying ip.
func With(ctx context.Context, ip netip.Addr) context.Context {
	return context.WithValue(ctx, key{}, ip)
}

// FromContext returns the client's address, or an invalid Addr when no
// middleware set one (calls from inside the process).
func FromContext(ctx context.Context) netip.Addr {
	ip, _ := ctx.Value(key{}).(netip.Addr)
	return ip
}

// Middleware puts the client's address into each request's context: the
// TCP peer, or, when the peer is one of the trusted proxies, the rightmost
// X-Forwarded-For address that is not a trusted proxy. Entries left of
// that one were written by the client and prove nothing.
func Middleware(trusted []netip.Prefix) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ip := Of(r, trusted)
			next.ServeHTTP(w, r.WithContext(With(r.Context(), ip)))
		})
	}
}

// Of returns r's client address as Middleware determines it.
func Of(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parseHostPort(r.RemoteAddr)
	if !peer.IsValid() || !isTrusted(peer, trusted) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	addr := peer
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return addr // garbage: trust nothing further left
			}
			addr = a.Unmap()
			if !isTrusted(addr, trusted) {
				return addr
			}
		}
	}
	return addr
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func parseHostPort(s string) netip.Addr {
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		host = s
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// ParsePrefixes reads a comma-separated list of CIDR prefixes or single
// addresses ("10.0.0.0/8, 192.0.2.7").
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or CIDR prefix", f)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or CIDR prefix", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
