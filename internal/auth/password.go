package auth

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// Passwords hashes and checks passwords with bcrypt.
type Passwords struct {
	cost int
	// dummy is a hash of nothing anyone knows, compared against when the
	// account does not exist so a failed login costs the same either way.
	dummy []byte
}

// DefaultCost is the bcrypt work factor unless configured: bcrypt's own
// default.
const DefaultCost = bcrypt.DefaultCost

// NewPasswords returns a hasher using cost (DefaultCost when 0).
func NewPasswords(cost int) (*Passwords, error) {
	if cost == 0 {
		cost = DefaultCost
	}
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d out of range %d-%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("no account has this password"), cost)
	if err != nil {
		return nil, fmt.Errorf("prepare dummy hash: %w", err)
	}
	return &Passwords{cost: cost, dummy: dummy}, nil
}

// Hash returns the bcrypt hash of password. Callers reject passwords over
// 72 bytes first: bcrypt would otherwise ignore the rest silently.
func (p *Passwords) Hash(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), p.cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// maxPasswordBytes is all bcrypt reads of a password.
const maxPasswordBytes = 72

// Check reports whether password matches hash. An empty hash (no such
// account) is compared against the dummy hash, so it takes as long.
// A password over 72 bytes never matches (Hash refuses to hash one, and
// bcrypt's comparison would silently ignore the excess), but it still
// costs a comparison.
func (p *Passwords) Check(hash, password string) (bool, error) {
	h := []byte(hash)
	tooLong := len(password) > maxPasswordBytes
	if hash == "" || tooLong {
		h = p.dummy
	}
	err := bcrypt.CompareHashAndPassword(h, []byte(password))
	switch {
	case err == nil:
		return hash != "" && !tooLong, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, fmt.Errorf("check password: %w", err)
	}
}
