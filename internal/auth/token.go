// Package auth issues and verifies bearer tokens, hashes passwords and puts
// the caller's identity into the request context.
package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
)

// participantTokenType marks participant tokens. User tokens carry no typ
// claim, because the legacy service never set one.
const participantTokenType = "participant"

// ErrInvalidToken is returned for any token that does not verify. The cause
// is wrapped for logs; clients only ever see a generic message.
var ErrInvalidToken = errors.New("invalid token")

// Tokens signs and verifies HS256 JWTs.
//
// User tokens are signed with the shared secret, exactly as the legacy
// NestJS service signs them, so its tokens keep working. Participant tokens
// are signed with a key derived from that secret and carry typ=participant:
// neither kind can ever verify as the other, whatever claims it holds.
type Tokens struct {
	userKey        []byte
	participantKey []byte
	cursorKey      []byte
	ttl            time.Duration
	leeway         time.Duration
	now            func() time.Time
	// verified remembers the tokens that verified (see principal).
	verified *lru.Cache[string, verifiedToken]
}

// verifiedTokens is how many verified tokens a Tokens remembers: a client
// polls with one token for its whole life, so a few thousand cover every
// caller a busy instance serves at once. Tokens are at most maxTokenBytes,
// so the cache holds at most 8 MiB of them, about 1 MiB with ours.
const verifiedTokens = 2048

// verifiedToken is what a token that verified says, until when.
type verifiedToken struct {
	userID, participantID, roomID string
	until                         time.Time
}

func newVerifiedCache() *lru.Cache[string, verifiedToken] {
	c, err := lru.New[string, verifiedToken](verifiedTokens)
	if err != nil {
		panic(err) // only for a size below one
	}
	return c
}

// DefaultLeeway is how long after its exp a token still verifies: the
// clock skew tolerated between this server and the legacy service, which
// issues tokens with the same secret.
const DefaultLeeway = 30 * time.Second

// NewTokens returns a signer/verifier for secret; user tokens live for ttl.
func NewTokens(secret []byte, ttl time.Duration) *Tokens {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("neuronmeet participant token v1"))
	participantKey := mac.Sum(nil)
	mac = hmac.New(sha256.New, secret)
	mac.Write([]byte("neuronmeet page cursor v1"))
	return &Tokens{userKey: secret, participantKey: participantKey, cursorKey: mac.Sum(nil), ttl: ttl, leeway: DefaultLeeway, now: time.Now,
		verified: newVerifiedCache()}
}

// WithLeeway returns t verifying tokens up to leeway after their exp.
func (t *Tokens) WithLeeway(leeway time.Duration) *Tokens {
	cp := *t
	cp.leeway = leeway
	cp.verified = newVerifiedCache() // what verified under t's leeway
	return &cp
}

type userClaims struct {
	Email string `json:"email,omitempty"`
	Type  string `json:"typ,omitempty"`
	jwt.RegisteredClaims
}

type participantClaims struct {
	Type   string `json:"typ"`
	RoomID string `json:"rid"`
	jwt.RegisteredClaims
}

// IssueUser returns a user token: sub=userID, email, iat, exp.
func (t *Tokens) IssueUser(userID, email string) (string, error) {
	now := t.now()
	claims := userClaims{
		Email: email,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   userID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.userKey)
	if err != nil {
		return "", fmt.Errorf("sign user token: %w", err)
	}
	return s, nil
}

// IssueParticipant returns a token scoped to one participant of one room.
// It lives as long as a user token; leaving makes it useless anyway.
func (t *Tokens) IssueParticipant(participantID, roomID string) (string, error) {
	now := t.now()
	claims := participantClaims{
		Type:   participantTokenType,
		RoomID: roomID,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   participantID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.participantKey)
	if err != nil {
		return "", fmt.Errorf("sign participant token: %w", err)
	}
	return s, nil
}

func (t *Tokens) parser() *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(t.leeway),
		jwt.WithTimeFunc(t.now),
	)
}

// ParseUser verifies a user token and returns its subject (the user id).
func (t *Tokens) ParseUser(token string) (string, error) {
	id, _, err := t.parseUser(token)
	return id, err
}

// parseUser is ParseUser, with the instant the token stops verifying.
func (t *Tokens) parseUser(token string) (string, time.Time, error) {
	var c userClaims
	_, err := t.parser().ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.userKey, nil })
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Type != "" {
		return "", time.Time{}, fmt.Errorf("%w: unexpected token type %q", ErrInvalidToken, c.Type)
	}
	if c.Subject == "" {
		return "", time.Time{}, fmt.Errorf("%w: missing sub", ErrInvalidToken)
	}
	return c.Subject, t.validUntil(c.RegisteredClaims), nil
}

// ParseParticipant verifies a participant token and returns the participant
// and room it is scoped to.
func (t *Tokens) ParseParticipant(token string) (participantID, roomID string, err error) {
	participantID, roomID, _, err = t.parseParticipant(token)
	return participantID, roomID, err
}

// parseParticipant is ParseParticipant, with the instant the token stops
// verifying.
func (t *Tokens) parseParticipant(token string) (participantID, roomID string, until time.Time, err error) {
	var c participantClaims
	_, err = t.parser().ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.participantKey, nil })
	if err != nil {
		return "", "", time.Time{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Type != participantTokenType || c.Subject == "" || c.RoomID == "" {
		return "", "", time.Time{}, fmt.Errorf("%w: not a participant token", ErrInvalidToken)
	}
	return c.Subject, c.RoomID, t.validUntil(c.RegisteredClaims), nil
}

// validUntil is the first instant a verified token no longer verifies
// (exp is required, so it is always set; it verifies while now is before
// exp plus the leeway).
func (t *Tokens) validUntil(c jwt.RegisteredClaims) time.Time {
	return c.ExpiresAt.Add(t.leeway)
}
