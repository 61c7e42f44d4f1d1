package events

import "context"

// Local delivers events within this process: the broker for a single
// instance on the embedded SQLite database, where no other instance can
// exist.
type Local struct {
	hub *hub
}

var _ Broker = (*Local)(nil)

// NewLocal returns an in-process broker.
func NewLocal(opts Options) *Local {
	return &Local{hub: newHub(opts.buffer(), true)}
}

// Publish implements Broker. It never fails: delivery only fills buffers.
func (l *Local) Publish(_ context.Context, evs ...*Event) error {
	l.hub.deliver(evs)
	return nil
}

// Subscribe implements Broker.
func (l *Local) Subscribe(ctx context.Context, roomID string, endAfter func(*Event) bool) (*Subscription, error) {
	s, _, err := l.hub.subscribe(ctx, roomID, false, endAfter)
	return s, err
}

// SubscribeHost implements Broker.
func (l *Local) SubscribeHost(ctx context.Context, hostID string) (*Subscription, error) {
	s, _, err := l.hub.subscribe(ctx, hostID, true, nil)
	return s, err
}

// Subscribers implements Broker.
func (l *Local) Subscribers() int { return l.hub.subscribers() }

// Close implements Broker.
func (l *Local) Close() error {
	l.hub.close()
	return nil
}
