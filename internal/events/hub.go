package events

import (
	"context"
	"sync"
)

// hub fans events out to this instance's subscribers. Each subscriber has
// a bounded buffer and delivery never waits for one: a subscriber whose
// buffer is full is ended with ErrOverflow instead, so a slow client can
// neither block the publisher nor delay anyone else. One lock serialises
// deliveries, so every subscriber of a room sees its events in the same
// order.
type hub struct {
	buffer int

	mu    sync.Mutex
	rooms map[string]map[*Subscription]struct{}
	// hosts holds the feeds of hosts' rooms (SubscribeHost), by host id.
	hosts map[string]map[*Subscription]struct{}
	count int
	// up is true while events can be received. While it is false (the
	// LISTEN connection is being re-established) no subscription opens,
	// since it could silently miss events; upCh is closed when up becomes
	// true again.
	up     bool
	upCh   chan struct{}
	closed bool
}

func newHub(buffer int, up bool) *hub {
	h := &hub{
		buffer: buffer, up: up, upCh: make(chan struct{}),
		rooms: map[string]map[*Subscription]struct{}{}, hosts: map[string]map[*Subscription]struct{}{},
	}
	if up {
		close(h.upCh)
	}
	return h
}

// Subscription is one subscriber's stream of a room's events, or of a
// host's rooms' events.
type Subscription struct {
	hub *hub
	// key is the room's id, or the host's for a host feed.
	key      string
	host     bool
	c        chan *Event
	endAfter func(*Event) bool
	stop     func() bool // deregisters the end-on-context-done hook

	// Guarded by hub.mu.
	ended bool
	err   error
}

// Events yields the room's (or the host's rooms') events in order. It is
// closed when the subscription ends; Err then says why.
func (s *Subscription) Events() <-chan *Event { return s.c }

// Err is nil while the subscription is open and after a normal end (the
// room ended, endAfter matched, Close or the context ended it); otherwise
// it is ErrOverflow, ErrInterrupted or ErrClosed. Events already buffered
// are still delivered before Events closes.
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// Close ends the subscription. It is idempotent.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.hub.endLocked(s, nil)
}

// subscribe registers a subscription to a room's events (to a host's
// rooms' when host), or returns a channel that is closed when subscribing
// may succeed (the hub is down), or ErrClosed.
func (h *hub) subscribe(ctx context.Context, key string, host bool, endAfter func(*Event) bool) (*Subscription, <-chan struct{}, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, nil, ErrClosed
	}
	if !h.up {
		return nil, h.upCh, nil
	}
	s := &Subscription{hub: h, key: key, host: host, c: make(chan *Event, h.buffer), endAfter: endAfter}
	index := h.index(host)
	subs := index[key]
	if subs == nil {
		subs = map[*Subscription]struct{}{}
		index[key] = subs
	}
	subs[s] = struct{}{}
	h.count++
	s.stop = context.AfterFunc(ctx, s.Close)
	return s, nil, nil
}

func (h *hub) index(host bool) map[string]map[*Subscription]struct{} {
	if host {
		return h.hosts
	}
	return h.rooms
}

// deliver hands evs, in order, to their rooms' subscribers and their
// hosts' feeds.
func (h *hub) deliver(evs []*Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range evs {
		// A room's own subscribers never hear of its creation: roomEvents
		// has no such type, and nobody could follow the room before it.
		if ev.Type != RoomCreated {
			for s := range h.rooms[ev.RoomID] {
				if h.sendLocked(s, ev) && (ev.Type == RoomEnded || (s.endAfter != nil && s.endAfter(ev))) {
					h.endLocked(s, nil)
				}
			}
		}
		if ev.HostID != "" && ev.Type.InHostFeed() {
			for s := range h.hosts[ev.HostID] {
				h.sendLocked(s, ev)
			}
		}
	}
}

// sendLocked buffers ev for s, or ends s with ErrOverflow (false).
func (h *hub) sendLocked(s *Subscription, ev *Event) bool {
	select {
	case s.c <- ev:
		return true
	default:
		h.endLocked(s, ErrOverflow)
		return false
	}
}

// endLocked ends s with err (nil: a normal end). Buffered events stay
// readable: closing a channel keeps what it holds.
func (h *hub) endLocked(s *Subscription, err error) {
	if s.ended {
		return
	}
	s.ended = true
	s.err = err
	close(s.c)
	if s.stop != nil {
		s.stop()
	}
	index := h.index(s.host)
	subs := index[s.key]
	delete(subs, s)
	if len(subs) == 0 {
		delete(index, s.key)
	}
	h.count--
}

// setUp marks events as receivable again and wakes waiting subscribers.
func (h *hub) setUp() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.up {
		h.up = true
		close(h.upCh)
	}
}

// setDown ends every subscription with err and refuses new ones until
// setUp: events published from now on may never arrive.
func (h *hub) setDown(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.up {
		h.up = false
		h.upCh = make(chan struct{})
	}
	h.endAllLocked(err)
}

// close ends every subscription with ErrClosed and refuses new ones.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	h.endAllLocked(ErrClosed)
	if !h.up {
		// Wake subscribers waiting for the hub to come up: it never will.
		h.up = true
		close(h.upCh)
	}
}

func (h *hub) endAllLocked(err error) {
	for _, index := range []map[string]map[*Subscription]struct{}{h.rooms, h.hosts} {
		for _, subs := range index {
			for s := range subs {
				h.endLocked(s, err)
			}
		}
	}
}

func (h *hub) subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count
}
