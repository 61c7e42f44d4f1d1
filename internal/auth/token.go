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
	ttl            time.Duration
	now            func() time.Time
}

// NewTokens returns a signer/verifier for secret; user tokens live for ttl.
func NewTokens(secret []byte, ttl time.Duration) *Tokens {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("neuronmeet participant token v1"))
	return &Tokens{userKey: secret, participantKey: mac.Sum(nil), ttl: ttl, now: time.Now}
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
		jwt.WithLeeway(30*time.Second),
		jwt.WithTimeFunc(t.now),
	)
}

// ParseUser verifies a user token and returns its subject (the user id).
func (t *Tokens) ParseUser(token string) (string, error) {
	var c userClaims
	_, err := t.parser().ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.userKey, nil })
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Type != "" {
		return "", fmt.Errorf("%w: unexpected token type %q", ErrInvalidToken, c.Type)
	}
	if c.Subject == "" {
		return "", fmt.Errorf("%w: missing sub", ErrInvalidToken)
	}
	return c.Subject, nil
}

// ParseParticipant verifies a participant token and returns the participant
// and room it is scoped to.
func (t *Tokens) ParseParticipant(token string) (participantID, roomID string, err error) {
	var c participantClaims
	_, err = t.parser().ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.participantKey, nil })
	if err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Type != participantTokenType || c.Subject == "" || c.RoomID == "" {
		return "", "", fmt.Errorf("%w: not a participant token", ErrInvalidToken)
	}
	return c.Subject, c.RoomID, nil
}
