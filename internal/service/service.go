// Package service holds the product's rules: who may do what, what input
// is valid, and what happens atomically. GraphQL resolvers and REST
// handlers are thin translations over it.
package service

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/events"
	"github.com/neuronmeet/api/internal/ratelimit"
	"github.com/neuronmeet/api/models"
)

// Service is the application core. It is safe for concurrent use.
type Service struct {
	db        *bun.DB
	tokens    *auth.Tokens
	passwords *auth.Passwords
	// postgres selects PostgreSQL-only SQL: row locks (SELECT ... FOR
	// UPDATE; SQLite runs one transaction at a time anyway) and LATERAL.
	postgres bool
	// unnamed is Deps' UnnamedStatements.
	unnamed bool
	// nativeArgs, set by tests only, sees each native batch statement's
	// parameters, which Bun's hooks never get (they see the text alone),
	// so that a test can EXPLAIN what ran.
	nativeArgs func(sqlText string, args []any)
	// limits, events and clock are Deps' RateLimits, Events and Now.
	limits *ratelimit.Guard
	events events.Broker
	clock  func() time.Time
	// publishOrder keeps commits and their publications in one order when
	// the broker publishes after the commit (see inTxPublishing).
	publishOrder sync.Mutex
}

// Deps are what a Service works with. Only DB and Tokens are required.
type Deps struct {
	DB     *bun.DB
	Tokens *auth.Tokens
	// Passwords hashes and checks passwords; Register and Login need it.
	Passwords *auth.Passwords
	// Events receives room events as their changes commit (see
	// inTxPublishing), and serves RoomEvents and MyRooms. Nil: nothing is
	// published, and both fail.
	Events events.Broker
	// RateLimits makes Login, Register, the lookups by room code, JoinRoom
	// and CreateRoom refuse attempts over its limits with TOO_MANY_REQUESTS. The limits live here, not in an
	// edge, so GraphQL (aliases included) and REST spend one allowance.
	// Nil: unlimited.
	RateLimits *ratelimit.Guard
	// Now is the clock of every timestamp the service writes (tests set
	// it to make times predictable). Nil: time.Now.
	Now func() time.Time
	// UnnamedStatements runs the native PostgreSQL reads as unnamed
	// statements instead of preparing them on each connection: a pooler
	// in transaction mode (db.PoolerPgBouncer) may hand the next statement
	// to a server connection where the name means nothing.
	UnnamedStatements bool
}

// New returns a Service over d.DB.
func New(d Deps) *Service {
	clock := d.Now
	if clock == nil {
		clock = time.Now
	}
	return &Service{
		db: d.DB, tokens: d.Tokens, passwords: d.Passwords, postgres: db.IsPostgres(d.DB),
		unnamed: d.UnnamedStatements, limits: d.RateLimits, events: d.Events, clock: clock,
	}
}

// now is the time a change happens, at the precision stored and shown.
func (s *Service) now() time.Time { return models.Timestamp(s.clock()) }

// Viewer returns the signed-in user. It fails with UNAUTHENTICATED for
// anonymous callers, invalid tokens, participant tokens, and tokens whose
// user no longer exists. The lookup happens once per request.
func (s *Service) Viewer(ctx context.Context) (*models.User, error) {
	p := auth.FromContext(ctx)
	switch {
	case p == nil:
		return nil, apperr.Unauthenticatedf("sign in required")
	case p.Err != nil:
		return nil, apperr.Unauthenticatedf("invalid or expired token")
	case p.UserID == "":
		return nil, apperr.Unauthenticatedf("a participant token cannot be used here; sign in required")
	}
	return p.User(func(id string) (*models.User, error) {
		return viewerLookup(s.userByID(ctx, id))
	})
}

// errVersionUnknown: the viewer was loaded before its answers version was
// asked for, so the version read now could be newer than the viewer's row.
var errVersionUnknown = errors.New("the viewer was loaded without its answers version")

// ViewerVersion is Viewer, and the viewer's answers version read in the
// same statement: a value that changes, in the same transaction, with every
// write that can change what the viewer's own reads show (see
// db/migrations' answers_version). An answer made by reads that start
// after this call reflects at least that version's data, so it may be
// served again for as long as the version stays the same.
//
// It must be the request's first viewer lookup; after another it fails
// (with an error no client sees: the caller then answers without the
// cache), since a version read after the viewer's row could be newer than
// the row.
func (s *Service) ViewerVersion(ctx context.Context) (*models.User, int64, error) {
	p := auth.FromContext(ctx)
	if p == nil || p.Err != nil || p.UserID == "" {
		_, err := s.Viewer(ctx) // its refusal
		return nil, 0, err
	}
	var version int64
	loaded := false
	u, err := p.User(func(id string) (*models.User, error) {
		loaded = true
		var u *models.User
		var err error
		u, version, err = s.userAndVersionByID(ctx, id)
		return viewerLookup(u, err)
	})
	switch {
	case err != nil:
		return nil, 0, err
	case !loaded:
		return nil, 0, errVersionUnknown
	}
	return u, version, nil
}

// userAndVersionByID loads one user and their answers version;
// sql.ErrNoRows when there is none.
func (s *Service) userAndVersionByID(ctx context.Context, id string) (*models.User, int64, error) {
	if s.postgres {
		return s.userAndVersionByIDPG(ctx, id)
	}
	return s.userAndVersionByIDBun(ctx, id)
}

func (s *Service) userAndVersionByIDBun(ctx context.Context, id string) (*models.User, int64, error) {
	var row struct {
		models.User    `bun:",extend"`
		AnswersVersion int64 `bun:"answers_version"`
	}
	if err := s.db.NewSelect().Model(&row).Where("id = ?", id).Limit(1).Scan(ctx); err != nil {
		return nil, 0, err
	}
	return &row.User, row.AnswersVersion, nil
}

// viewerLookup maps the token's user lookup to Viewer's answer: a token of
// a user who no longer exists is refused.
func viewerLookup(u *models.User, err error) (*models.User, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.Unauthenticatedf("invalid or expired token")
	}
	if err != nil {
		return nil, fmt.Errorf("load viewer: %w", err)
	}
	return u, nil
}

// optionalViewer is Viewer for operations open to anonymous callers: it
// returns (nil, nil) without a token, but still refuses a bad one rather
// than silently treating its bearer as anonymous.
func (s *Service) optionalViewer(ctx context.Context) (*models.User, error) {
	p := auth.FromContext(ctx)
	if p == nil {
		return nil, nil
	}
	if p.Err == nil && p.UserID == "" {
		return nil, nil // a participant token: anonymous as far as users go
	}
	return s.Viewer(ctx)
}

// caller returns the principal of an operation open to users and to guests
// holding a participant token, with the user when it is one. It refuses
// anonymous callers and bad tokens.
func (s *Service) caller(ctx context.Context) (*auth.Principal, *models.User, error) {
	p := auth.FromContext(ctx)
	if p == nil {
		return nil, nil, apperr.Unauthenticatedf("a user or participant token is required")
	}
	if p.Err != nil {
		return nil, nil, apperr.Unauthenticatedf("invalid or expired token")
	}
	if p.UserID == "" {
		return p, nil, nil
	}
	viewer, err := s.Viewer(ctx)
	if err != nil {
		return nil, nil, err
	}
	return p, viewer, nil
}

// ViewerID returns the signed-in user's id from the token alone, without a
// lookup, or "" when there is none: enough to tell whether the caller hosts
// an already loaded room (for who may see private fields, see auth.IsSelf).
func ViewerID(ctx context.Context) string {
	if p := auth.FromContext(ctx); p != nil && p.Err == nil {
		return p.UserID
	}
	return ""
}

// userByID loads one user; sql.ErrNoRows when there is none.
func (s *Service) userByID(ctx context.Context, id string) (*models.User, error) {
	if s.postgres {
		return s.userByIDPG(ctx, id)
	}
	return s.userByIDBun(ctx, id)
}

func (s *Service) userByIDBun(ctx context.Context, id string) (*models.User, error) {
	u := new(models.User)
	if err := s.db.NewSelect().Model(u).Where("id = ?", id).Limit(1).Scan(ctx); err != nil {
		return nil, err
	}
	return u, nil
}

// inTx runs fn in a transaction, again from the start if PostgreSQL
// aborts it for a deadlock or serialization failure (see db.RunInTx).
func (s *Service) inTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	return db.RunInTx(ctx, s.db, nil, fn)
}

// forUpdate adds FOR UPDATE on PostgreSQL.
func (s *Service) forUpdate(q *bun.SelectQuery) *bun.SelectQuery {
	if s.postgres {
		return q.For("UPDATE")
	}
	return q
}
