package harness

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// FaultProxy is a TCP proxy in front of PostgreSQL that a test can take
// down and bring back: down, it drops every open connection and closes new
// ones at once, as a database restart looks to its clients. It stands in
// for stopping the real server, which other tests share.
type FaultProxy struct {
	t      testing.TB
	ln     net.Listener
	target string

	mu    sync.Mutex
	up    bool
	conns map[net.Conn]struct{}
}

// NewFaultProxy listens on a loopback port of its own and forwards to
// target (host:port) while up.
func NewFaultProxy(t testing.TB, target string, up bool) *FaultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{t: t, ln: ln, target: target, up: up, conns: map[net.Conn]struct{}{}}
	go p.accept()
	t.Cleanup(func() { _ = ln.Close(); p.SetUp(false) })
	return p
}

// Addr is the proxy's address.
func (p *FaultProxy) Addr() string { return p.ln.Addr().String() }

// Proxied rewrites a postgres:// URL to go through the proxy.
func (p *FaultProxy) Proxied(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		p.t.Fatal(err)
	}
	u.Host = p.Addr()
	return u.String()
}

// SetUp brings the proxy up or takes it down.
func (p *FaultProxy) SetUp(up bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = up
	if !up {
		for c := range p.conns {
			_ = c.Close()
		}
		clear(p.conns)
	}
}

func (p *FaultProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		up := p.up
		p.mu.Unlock()
		if !up {
			_ = client.Close()
			continue
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.mu.Lock()
		if !p.up { // went down while dialling
			p.mu.Unlock()
			_ = client.Close()
			_ = server.Close()
			continue
		}
		p.conns[client] = struct{}{}
		p.conns[server] = struct{}{}
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
		}
		go pipe(server, client)
		go pipe(client, server)
	}
}
