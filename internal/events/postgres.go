package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
)

// Channel is the NOTIFY channel every instance publishes to and listens
// on. Notifications stay within one database, so instances (or test
// databases) on other databases of the same server never mix.
const Channel = "neuronmeet_room_events"

// ApplicationName names the LISTEN connection in pg_stat_activity, so an
// operator (or a test) can find it.
const ApplicationName = "neuronmeet-events"

// maxPayload is the largest NOTIFY payload PostgreSQL accepts (8000
// bytes), less a margin. Events are a few hundred bytes (names and guest
// names are at most 100 characters), but a chat message's may be more:
// those are sent in parts (splitPayload).
const maxPayload = 7900

// Timing of the LISTEN connection.
var (
	// healthCheck: after this long without a notification, ping the
	// connection, so a dead peer (no FIN, no RST) is noticed in seconds
	// rather than at the kernel's TCP timeout.
	healthCheck = 15 * time.Second
	// reconnect backoff bounds.
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
	// readyTimeout: how long Subscribe waits for the LISTEN connection
	// before answering ErrUnavailable.
	readyTimeout = 5 * time.Second
)

// Postgres delivers events across every instance that shares a PostgreSQL
// database. Publish sends one NOTIFY per call through the connection pool;
// each instance holds one dedicated connection that LISTENs and fans what
// it receives out to its own subscribers. The publishing instance hears
// its own notifications too, so every instance delivers in the same order
// (the order the notifications committed).
//
// The LISTEN connection starts with the first subscription, so processes
// that never serve one (the seed command, most tests) never open it. When
// it drops, every open subscription ends with ErrInterrupted (events
// published while it was down are lost to them) and it reconnects with
// backoff; meanwhile Subscribe waits for it, up to 5 s.
type Postgres struct {
	hub     *hub
	db      bun.IDB
	connect func(context.Context) (*pgx.Conn, error)
	log     *slog.Logger

	startOnce sync.Once
	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

var _ Broker = (*Postgres)(nil)

// NewPostgres returns a broker that publishes through db and listens on
// connections made by connect (see PoolConnector).
func NewPostgres(db bun.IDB, connect func(context.Context) (*pgx.Conn, error), log *slog.Logger, opts Options) *Postgres {
	ctx, cancel := context.WithCancel(context.Background())
	return &Postgres{
		hub:     newHub(opts.buffer(), false),
		db:      db,
		connect: connect,
		log:     log,
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
	}
}

// PoolConnector returns a function that opens a connection configured
// exactly like pool's (address, credentials, TLS, timeouts), so the LISTEN
// connection needs no configuration of its own.
func PoolConnector(pool *sql.DB) func(context.Context) (*pgx.Conn, error) {
	return func(ctx context.Context) (*pgx.Conn, error) {
		c, err := pool.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("borrow a pool connection for its configuration: %w", err)
		}
		var cfg *pgx.ConnConfig
		err = c.Raw(func(driverConn any) error {
			sc, ok := driverConn.(*stdlib.Conn)
			if !ok {
				return fmt.Errorf("pool driver is %T, not pgx", driverConn)
			}
			cfg = sc.Conn().Config()
			return nil
		})
		_ = c.Close()
		if err != nil {
			return nil, err
		}
		// The copied configuration carries the pool connection's own
		// notification callback, which would hand our notifications to
		// that connection's buffer: clear it so pgx buffers them for
		// WaitForNotification on this one.
		cfg.OnNotification = nil
		cfg.RuntimeParams["application_name"] = ApplicationName
		return pgx.ConnectConfig(ctx, cfg)
	}
}

// URLConnector returns a function that opens the LISTEN connection to
// url (DATABASE_LISTEN_URL): straight to PostgreSQL when the pool goes
// through a pooler in transaction mode, where a LISTEN would last only
// until its statement ended and hear nothing. url must name the database
// the pool's NOTIFYs reach.
func URLConnector(url string, connectTimeout time.Duration) (func(context.Context) (*pgx.Conn, error), error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse the LISTEN connection's URL: %w", err)
	}
	if connectTimeout > 0 {
		cfg.ConnectTimeout = connectTimeout
	}
	cfg.RuntimeParams["application_name"] = ApplicationName
	return func(ctx context.Context) (*pgx.Conn, error) {
		return pgx.ConnectConfig(ctx, cfg.Copy())
	}, nil
}

// Publish implements Broker: one NOTIFY for all of evs, so they arrive
// together and in order. It does not use ctx's cancellation: the change
// has committed, and a client hanging up must not cancel its event.
func (p *Postgres) Publish(ctx context.Context, evs ...*Event) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return p.notify(ctx, p.db, evs)
}

var _ TxPublisher = (*Postgres)(nil)

// PublishTx implements TxPublisher: the NOTIFY runs in the change's own
// transaction, so PostgreSQL delivers it at that commit, after those of
// every transaction that committed before it. Published after the commit
// instead, two changes to one room committing one after the other could
// announce themselves the other way round. A failure fails the
// transaction: the change does not commit without its events.
func (p *Postgres) PublishTx(ctx context.Context, tx bun.IDB, evs ...*Event) error {
	return p.notify(ctx, tx, evs)
}

func (p *Postgres) notify(ctx context.Context, on bun.IDB, evs []*Event) error {
	if len(evs) == 0 {
		return nil
	}
	payload, err := json.Marshal(evs)
	if err != nil {
		return p.publishFailed(ctx, evs, fmt.Errorf("encode: %w", err))
	}
	parts := splitPayload(string(payload))
	if len(parts) > maxParts {
		return p.publishFailed(ctx, evs, fmt.Errorf("payload of %d bytes exceeds %d notifications", len(payload), maxParts))
	}
	// One statement: its notifications are queued together, in order, and
	// sent at its transaction's commit, after those of every transaction
	// that committed before it.
	query, args := "SELECT pg_notify(?, ?)", []any{Channel, parts[0]}
	for _, part := range parts[1:] {
		query += ", pg_notify(?, ?)"
		args = append(args, Channel, part)
	}
	if _, err := on.NewRaw(query, args...).Exec(ctx); err != nil {
		return p.publishFailed(ctx, evs, fmt.Errorf("notify: %w", err))
	}
	return nil
}

// A payload over maxPayload (a chat message of 2,000 characters may take
// 8,000 bytes, more than one notification holds) is sent as parts, each
// "<partPrefix><id>:<i>:<n>:" and a piece of the JSON cut between runes,
// which the listeners join again (see assembler).
const (
	partPrefix = "part:"
	maxParts   = 8
)

// splitPayload returns payload as the notifications that carry it: itself
// when it fits in one.
func splitPayload(payload string) []string {
	if len(payload) <= maxPayload {
		return []string{payload}
	}
	const room = maxPayload - 64 // the part's header
	var pieces []string
	for len(payload) > 0 {
		n := min(room, len(payload))
		for n < len(payload) && !utf8.RuneStart(payload[n]) {
			n--
		}
		pieces = append(pieces, payload[:n])
		payload = payload[n:]
	}
	id := strconv.FormatInt(time.Now().UnixNano(), 36) + strconv.FormatUint(uint64(rand.Uint32()), 36)
	out := make([]string, len(pieces))
	for i, piece := range pieces {
		out[i] = partPrefix + id + ":" + strconv.Itoa(i) + ":" + strconv.Itoa(len(pieces)) + ":" + piece
	}
	return out
}

// assembler joins the parts of split payloads. The parts of one payload
// arrive together and in order (one transaction's notifications), so at
// most one payload per sender is ever incomplete.
type assembler struct {
	pending map[uint32]*partial // by sender backend
}

type partial struct {
	id   string
	next int
	buf  strings.Builder
}

// add takes one notification's payload from sender and returns the whole
// payload once complete (ok), or ok false while parts are missing or for
// a part out of turn (dropped, with its payload).
func (a *assembler) add(sender uint32, payload string) (whole string, ok bool) {
	if !strings.HasPrefix(payload, partPrefix) {
		return payload, true
	}
	fields := strings.SplitN(payload[len(partPrefix):], ":", 4)
	if len(fields) != 4 {
		return "", false
	}
	i, err1 := strconv.Atoi(fields[1])
	n, err2 := strconv.Atoi(fields[2])
	if err1 != nil || err2 != nil || n < 1 || n > maxParts || i < 0 || i >= n {
		return "", false
	}
	if a.pending == nil {
		a.pending = map[uint32]*partial{}
	}
	pt := a.pending[sender]
	if i == 0 {
		pt = &partial{id: fields[0]}
		a.pending[sender] = pt
	}
	if pt == nil || pt.id != fields[0] || pt.next != i {
		delete(a.pending, sender)
		return "", false
	}
	pt.buf.WriteString(fields[3])
	pt.next++
	if pt.next < n {
		return "", false
	}
	delete(a.pending, sender)
	return pt.buf.String(), true
}

func (p *Postgres) publishFailed(ctx context.Context, evs []*Event, err error) error {
	err = fmt.Errorf("publish room events: %w", err)
	p.log.ErrorContext(ctx, "live events lost", "err", err, "room", evs[0].RoomID, "type", string(evs[0].Type), "events", len(evs))
	return err
}

// Subscribe implements Broker. It waits (up to 5 s, or ctx) for the
// LISTEN connection, starting it on first use.
func (p *Postgres) Subscribe(ctx context.Context, roomID string, endAfter func(*Event) bool) (*Subscription, error) {
	return p.subscribe(ctx, roomID, false, endAfter)
}

// SubscribeHost implements Broker, waiting as Subscribe does. Host feeds
// travel on the one channel with every other event (each carries its
// host's id), so no LISTEN depends on which hosts are subscribed.
func (p *Postgres) SubscribeHost(ctx context.Context, hostID string) (*Subscription, error) {
	return p.subscribe(ctx, hostID, true, nil)
}

func (p *Postgres) subscribe(ctx context.Context, key string, host bool, endAfter func(*Event) bool) (*Subscription, error) {
	p.startOnce.Do(func() { go p.listen() })
	timeout := time.NewTimer(readyTimeout)
	defer timeout.Stop()
	for {
		s, wait, err := p.hub.subscribe(ctx, key, host, endAfter)
		if s != nil || err != nil {
			return s, err
		}
		select {
		case <-wait:
		case <-timeout.C:
			return nil, ErrUnavailable
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
		}
	}
}

// Subscribers implements Broker.
func (p *Postgres) Subscribers() int { return p.hub.subscribers() }

// Close implements Broker: it ends every subscription and closes the LISTEN
// connection.
func (p *Postgres) Close() error {
	p.closeOnce.Do(func() {
		// The hub first, so subscribers learn of ErrClosed rather than of
		// the LISTEN session ending.
		p.hub.close()
		p.cancel()
		started := true
		p.startOnce.Do(func() { started = false }) // and never start now
		if started {
			<-p.done
		}
	})
	return nil
}

// listen keeps a LISTEN session open until Close, reconnecting with
// exponential backoff.
func (p *Postgres) listen() {
	defer close(p.done)
	backoff := minBackoff
	for {
		start := time.Now()
		err := p.session()
		if p.ctx.Err() != nil {
			return
		}
		if time.Since(start) > maxBackoff {
			backoff = minBackoff // it had been healthy: retry at once
		}
		p.log.Warn("live events: LISTEN connection lost; reconnecting", "err", err, "retry_in", backoff.String())
		select {
		case <-p.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// session runs one LISTEN connection until it fails or the broker closes.
func (p *Postgres) session() error {
	conn, err := p.connect(p.ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(ctx)
	}()
	if _, err := conn.Exec(p.ctx, "LISTEN "+Channel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	p.hub.setUp()
	p.log.Info("live events: listening", "channel", Channel, "backend_pid", conn.PgConn().PID())
	// Whatever ends this session, events may be lost from here until the
	// next one listens: end the subscriptions that would miss them.
	defer p.hub.setDown(ErrInterrupted)
	var parts assembler
	for {
		wait, cancel := context.WithTimeout(p.ctx, healthCheck)
		n, err := conn.WaitForNotification(wait)
		cancel()
		switch {
		case p.ctx.Err() != nil:
			return nil
		case errors.Is(err, context.DeadlineExceeded):
			ping, cancel := context.WithTimeout(p.ctx, 5*time.Second)
			err := conn.Ping(ping)
			cancel()
			if err != nil {
				return fmt.Errorf("health check: %w", err)
			}
			continue
		case err != nil:
			return fmt.Errorf("wait for notification: %w", err)
		}
		payload, whole := parts.add(n.PID, n.Payload)
		if !whole {
			continue
		}
		var evs []*Event
		if err := json.Unmarshal([]byte(payload), &evs); err != nil {
			// Not ours (someone else NOTIFYing on the channel): skip it.
			p.log.Error("live events: undecodable notification", "err", err, "sender_pid", n.PID)
			continue
		}
		p.hub.deliver(evs)
	}
}
