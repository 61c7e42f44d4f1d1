package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/service"
)

const (
	demoEmail    = "demo@neuronmeet.dev"
	demoPassword = "demo-password"
)

// seedDays is how far back the demo history goes.
const seedDays = 28

// Seed creates (once) a demo host with four weeks of meetings, three
// teammates and their guests, and prints a token for the host, so a
// newcomer's first dashboard query (stats, connections, usage) shows
// something worth reading. It goes through the service like any client
// would, with the service's clock set to each change's time in the past.
func Seed(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer) error {
	if err := useSecretFile(&cfg, log); err != nil {
		return err
	}
	bdb, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer bdb.Close()
	// The seed is the operator writing demo data, not a client: its few
	// hundred writes in a second are not rate-limited.
	cfg.RateLimits = nil
	clock := &seedClock{}
	a, err := New(cfg, bdb, log, WithClock(clock.now))
	if err != nil {
		return err
	}
	defer a.CloseLive()
	svc := a.svc
	now := time.Now().UTC()
	clock.set(now.AddDate(0, 0, -seedDays-1)) // the accounts predate their meetings
	host, err := svc.Register(ctx, service.RegisterInput{Email: demoEmail, Password: demoPassword, DisplayName: "Demo Host"})
	if apperr.CodeOf(err) == apperr.Conflict {
		host, err = svc.Login(ctx, service.LoginInput{Email: demoEmail, Password: demoPassword})
		if err != nil {
			return fmt.Errorf("seed: log in demo host: %w", err)
		}
		fmt.Fprintf(out, "Demo data already present.\n")
	} else if err != nil {
		return fmt.Errorf("seed: register demo host: %w", err)
	} else {
		s := &seeder{ctx: ctx, svc: svc, clock: clock, rng: rand.New(rand.NewPCG(2026, 12))}
		sum, err := s.history(host.User.ID, now)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "Created demo host %s (password %q) with %d rooms over the last %d days (%d active now, %d not started yet), and teammates %s (same password) who host %d more and join many.\n",
			demoEmail, demoPassword, sum.hosted, seedDays, sum.active, sum.notStarted, sum.teammates, sum.theirs)
	}
	if cfg.secretFile != "" {
		fmt.Fprintf(out, "Signed with the development secret in %s, which the server uses too while JWT_SECRET is unset.\n", cfg.secretFile)
	}
	fmt.Fprintf(out, "\nAuthorization: Bearer %s\n", host.AccessToken)
	return nil
}

// seedClock is the time the seed's writes happen at: each meeting's
// changes are made at their moment in the history.
type seedClock struct {
	mu sync.Mutex
	at time.Time
}

func (c *seedClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *seedClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = t
}

// seeder writes the demo history. Its random choices come from a fixed
// seed, so every run on a given day writes the same history (the weekdays
// decide which meetings a day holds).
type seeder struct {
	ctx   context.Context
	svc   *service.Service
	clock *seedClock
	rng   *rand.Rand
}

// person is someone who joins meetings: a signed-in user (id set) or a
// guest (name only; each join of a guest is a person of its own).
type person struct {
	id, name string
}

// change is one step of a meeting: at its time, do runs.
type change struct {
	at time.Time
	do func() error
}

type seedSummary struct {
	hosted, active, notStarted, theirs int
	teammates                          string
}

// meeting is one room's life: who comes when, who drops out and rejoins,
// and whether it has ended.
type meeting struct {
	host    person
	name    string
	start   time.Time
	length  time.Duration
	regular []person // come on time, some drop out once and rejoin
	guests  []string // come late, leave early
	gone    []person // look in at the start, leave halfway
	running bool     // not ended: whoever is still there is present now
}

func (s *seeder) history(hostID string, now time.Time) (seedSummary, error) {
	var sum seedSummary
	demo := person{id: hostID, name: "Demo Host"}
	var team []person
	for _, mate := range []struct{ name, email string }{
		{"Ada Park", "ada@neuronmeet.dev"}, {"Ben Okafor", "ben@neuronmeet.dev"}, {"Chloé Martin", "chloe@neuronmeet.dev"},
	} {
		// A run that stopped half-way may have registered them already.
		u, err := s.svc.Register(s.ctx, service.RegisterInput{Email: mate.email, Password: demoPassword, DisplayName: mate.name})
		if apperr.CodeOf(err) == apperr.Conflict {
			u, err = s.svc.Login(s.ctx, service.LoginInput{Email: mate.email, Password: demoPassword})
		}
		if err != nil {
			return sum, fmt.Errorf("seed: teammate %s: %w", mate.name, err)
		}
		team = append(team, person{id: u.User.ID, name: mate.name})
		if sum.teammates != "" {
			sum.teammates += ", "
		}
		sum.teammates += mate.email
	}
	ada, ben, chloe := team[0], team[1], team[2]
	everyone := []person{demo, ada, ben, chloe}
	today := now.Truncate(24 * time.Hour)

	var meetings []meeting
	for back := seedDays; back >= 1; back-- {
		day := today.AddDate(0, 0, -back)
		switch day.Weekday() {
		case time.Saturday, time.Sunday:
			if s.rng.IntN(3) == 0 { // now and then a weekend call
				meetings = append(meetings, meeting{host: demo, name: "Weekend Hotfix", start: day.Add(11 * time.Hour), length: 35 * time.Minute, regular: []person{demo, ben}})
			}
			continue
		}
		meetings = append(meetings, meeting{host: demo, name: "Team Standup", start: day.Add(9*time.Hour + 30*time.Minute), length: 15 * time.Minute, regular: everyone})
		switch day.Weekday() {
		case time.Monday:
			meetings = append(meetings, meeting{host: demo, name: "Weekly Planning", start: day.Add(10 * time.Hour), length: time.Hour, regular: everyone})
		case time.Tuesday:
			meetings = append(meetings, meeting{host: chloe, name: "Platform Sync", start: day.Add(15 * time.Hour), length: 40 * time.Minute, regular: []person{chloe, demo, ben}})
		case time.Thursday:
			// Two at once for a quarter of an hour, the host and Ben in
			// both (a laptop and a phone).
			meetings = append(meetings,
				meeting{host: demo, name: "Design Review", start: day.Add(14 * time.Hour), length: 45 * time.Minute, regular: []person{demo, ada, ben}, guests: []string{"Maya (Studio North)", "Ravi (Studio North)"}},
				meeting{host: demo, name: "Hiring Panel", start: day.Add(14*time.Hour + 30*time.Minute), length: 50 * time.Minute, regular: []person{demo, chloe, ben}, guests: []string{"Candidate"}})
		case time.Friday:
			meetings = append(meetings, meeting{host: demo, name: "Customer Demo", start: day.Add(16 * time.Hour), length: 30 * time.Minute, regular: []person{demo, ada}, guests: []string{"Jordan (Acme)", "Priya (Acme)", "Sam (Acme)"}})
		}
	}
	// Now: office hours running for 45 minutes (Ben looked in and left;
	// a guest is there), Chloé's sync that the host left ten minutes ago
	// and may rejoin (his attended list), and a retro booked for later.
	meetings = append(meetings,
		meeting{host: demo, name: "Office Hours", start: now.Add(-45 * time.Minute), length: 45 * time.Minute, regular: []person{demo, ada}, guests: []string{"Sam (Acme)"}, gone: []person{ben}, running: true},
		meeting{host: chloe, name: "Platform Sync", start: now.Add(-20 * time.Minute), length: 20 * time.Minute, regular: []person{chloe, ben}, gone: []person{demo}, running: true})

	for _, m := range meetings {
		if err := s.meeting(m, now); err != nil {
			return sum, err
		}
		if m.host == demo {
			sum.hosted++
			if m.running {
				sum.active++
			}
		} else {
			sum.theirs++
		}
	}
	s.clock.set(now.Add(-3 * time.Hour))
	name := "Quarterly Retro"
	if _, err := s.svc.CreateRoom(s.userCtx(demo), service.CreateRoomInput{Name: &name}); err != nil {
		return sum, fmt.Errorf("seed: create room: %w", err)
	}
	sum.hosted++
	sum.notStarted++
	return sum, nil
}

func (s *seeder) userCtx(p person) context.Context {
	return auth.WithPrincipal(s.ctx, &auth.Principal{UserID: p.id})
}

// meeting writes one meeting's changes in the order they happened, each at
// its time; a running meeting's changes all lie before now.
func (s *seeder) meeting(m meeting, now time.Time) error {
	jitter := func(max time.Duration) time.Duration {
		if max <= 0 {
			return 0
		}
		return time.Duration(s.rng.Int64N(int64(max)))
	}
	end := m.start.Add(m.length)
	var room *service.RoomWithSettings
	changes := []change{{m.start.Add(-jitter(10 * time.Minute)), func() (err error) {
		room, err = s.svc.CreateRoom(s.userCtx(m.host), service.CreateRoomInput{Name: &m.name, MaxParticipants: new(25)})
		return err
	}}}
	// presence adds one stay, [from, to), of someone; to at or after the
	// end is the end (or, running, still there).
	presence := func(p *person, guest string, from, to time.Time) {
		var pid string
		var ctx context.Context
		changes = append(changes, change{from, func() error {
			var name *string
			ctx = s.ctx
			if p != nil {
				ctx = s.userCtx(*p)
			} else {
				name = &guest
			}
			j, err := s.svc.JoinRoom(ctx, room.Room.Code, name)
			if err != nil {
				return err
			}
			pid = j.Participant.ID
			if p == nil {
				ctx = auth.WithPrincipal(s.ctx, &auth.Principal{ParticipantID: pid, RoomID: room.Room.ID})
			}
			return nil
		}})
		if to.Before(end) {
			changes = append(changes, change{to, func() error {
				_, err := s.svc.LeaveRoom(ctx, pid)
				return err
			}})
		}
	}
	for i := range m.regular {
		p := &m.regular[i]
		from := m.start.Add(jitter(3 * time.Minute))
		if p.id == m.host.id {
			from = m.start // the host opens the meeting
		}
		leave := end
		if s.rng.IntN(4) == 0 {
			leave = end.Add(-jitter(m.length / 3)) // leaves early
		}
		if s.rng.IntN(4) == 0 && p.id != m.host.id { // a dropped connection, and back
			drop := from.Add(jitter(leave.Sub(from) / 2))
			back := drop.Add(30*time.Second + jitter(2*time.Minute))
			if back.Before(leave) {
				presence(p, "", from, drop)
				presence(p, "", back, leave)
				continue
			}
		}
		presence(p, "", from, leave)
	}
	for _, g := range m.guests {
		from := m.start.Add(2*time.Minute + jitter(m.length/3))
		leave := end
		if !m.running {
			leave = end.Add(-jitter(m.length / 4))
		}
		presence(nil, g, from, leave)
	}
	for i := range m.gone {
		presence(&m.gone[i], "", m.start.Add(time.Minute), m.start.Add(m.length/2))
	}
	if !m.running {
		changes = append(changes, change{end, func() error {
			_, err := s.svc.EndRoom(s.userCtx(m.host), room.Room.ID)
			return err
		}})
	}
	// Changes at one instant keep their order (a join before its leave).
	slices.SortStableFunc(changes, func(a, b change) int { return a.at.Compare(b.at) })
	for _, c := range changes {
		if c.at.After(now) {
			c.at = now
		}
		s.clock.set(c.at)
		if err := c.do(); err != nil {
			return fmt.Errorf("seed: %s at %s: %w", m.name, c.at.Format(time.RFC3339), err)
		}
	}
	return nil
}
