package auth

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/neuronmeet/api/models"
)

// Principal is who the bearer token says the caller is. At most one of
// UserID and ParticipantID is set; Err is set when a token was presented
// but did not verify (the caller is then neither anonymous nor anyone).
type Principal struct {
	UserID        string
	ParticipantID string
	// RoomID is the room a participant token is scoped to.
	RoomID string
	// Expires is the first instant the token no longer verifies (its exp
	// plus the leeway); zero when there is no valid token. A stream opened
	// with the token must not outlive it.
	Expires time.Time
	Err     error

	userOnce sync.Once
	user     *models.User
	userErr  error
}

// User returns the principal's user, calling load at most once per request
// however many resolvers ask.
func (p *Principal) User(load func(id string) (*models.User, error)) (*models.User, error) {
	p.userOnce.Do(func() { p.user, p.userErr = load(p.UserID) })
	return p.user, p.userErr
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the request's principal, or nil for an anonymous
// caller (no Authorization header).
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Middleware reads the bearer token from the Authorization header (never
// from query strings or cookies, which leak into logs and CSRF) and puts
// the resulting Principal into the request context. It never rejects a
// request itself: whether a caller must be signed in is the operation's call.
func Middleware(tokens *Tokens) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := context.WithValue(r.Context(), signInsKey{}, &signIns{})
			if header := r.Header.Get("Authorization"); header != "" {
				ctx = WithPrincipal(ctx, tokens.principal(header))
			}
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// PrincipalFor returns who the credential authorization ("Bearer <token>")
// says the caller is, exactly as Middleware reads the Authorization header.
// For transports that carry it elsewhere: a websocket's connection_init
// payload, since browsers cannot set headers on websockets.
func (t *Tokens) PrincipalFor(authorization string) *Principal {
	return t.principal(authorization)
}

// maxTokenBytes is the longest bearer token worth verifying.
const maxTokenBytes = 4096

func (t *Tokens) principal(header string) *Principal {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return &Principal{Err: ErrInvalidToken}
	}
	token = strings.TrimSpace(token)
	if len(token) > maxTokenBytes {
		// Ours are about 250 bytes. A longer one cannot verify, so it is
		// not worth splitting and decoding (JWT header parsing has been an
		// allocation attack surface before).
		return &Principal{Err: ErrInvalidToken}
	}
	// A token verified before is not parsed and MAC'd again while it is
	// still valid: the key is the whole token, signature included, so only
	// the same bytes hit, and expiry is checked on every hit. Refusals are
	// not remembered (anyone can make endless new ones).
	if v, ok := t.verified.Get(token); ok && t.now().Before(v.until) {
		return &Principal{UserID: v.userID, ParticipantID: v.participantID, RoomID: v.roomID, Expires: v.until}
	}
	v, err := t.verify(token)
	if err != nil {
		return &Principal{Err: err}
	}
	t.verified.Add(token, v)
	return &Principal{UserID: v.userID, ParticipantID: v.participantID, RoomID: v.roomID, Expires: v.until}
}

// verify verifies token as a user token or, failing that, as a participant
// token; the error is the user token's.
func (t *Tokens) verify(token string) (verifiedToken, error) {
	userID, until, err := t.parseUser(token)
	if err == nil {
		return verifiedToken{userID: userID, until: until}, nil
	}
	if pid, rid, until, perr := t.parseParticipant(token); perr == nil {
		return verifiedToken{participantID: pid, roomID: rid, until: until}, nil
	}
	return verifiedToken{}, err
}

// signIns records the users who proved who they are during this request
// by signing in (register, login): they may see their own private fields
// in that same response, though the request carried no token for them.
type signIns struct {
	mu  sync.Mutex
	ids []string
}

type signInsKey struct{}

// MarkSignedIn records that the caller has just proved to be userID.
func MarkSignedIn(ctx context.Context, userID string) {
	if s, ok := ctx.Value(signInsKey{}).(*signIns); ok {
		s.mu.Lock()
		s.ids = append(s.ids, userID)
		s.mu.Unlock()
	}
}

// IsSelf reports whether the caller is userID: by a valid user token, or
// by having signed in as userID earlier in this request.
func IsSelf(ctx context.Context, userID string) bool {
	if p := FromContext(ctx); p != nil && p.Err == nil && p.UserID == userID {
		return true
	}
	s, ok := ctx.Value(signInsKey{}).(*signIns)
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.ids {
		if id == userID {
			return true
		}
	}
	return false
}
