package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
)

// cursorMACSize is how much of the HMAC-SHA256 a cursor carries: 128 bits
// is far beyond guessing, and keeps cursors short in URLs.
const cursorMACSize = 16

// ErrInvalidCursor is a cursor this server did not make (or made with
// another secret).
var ErrInvalidCursor = errors.New("invalid cursor")

// SealCursor returns payload with its MAC, as opaque URL-safe text. The key
// is derived from the secret (like participant tokens' key), so a cursor
// can never pass for a token, nor a token for a cursor. Cursors do not
// expire: a page bookmarked today opens next year, as long as the secret
// is the same.
func (t *Tokens) SealCursor(payload []byte) string {
	mac := hmac.New(sha256.New, t.cursorKey)
	mac.Write(payload)
	sealed := append(append([]byte(nil), payload...), mac.Sum(nil)[:cursorMACSize]...)
	return base64.RawURLEncoding.EncodeToString(sealed)
}

// OpenCursor returns the payload of a cursor SealCursor made, or
// ErrInvalidCursor.
func (t *Tokens) OpenCursor(cursor string) ([]byte, error) {
	// Strict: one spelling per cursor (no stray bits in the last
	// character), so a changed cursor is never the same one.
	sealed, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
	if err != nil || len(sealed) <= cursorMACSize {
		return nil, ErrInvalidCursor
	}
	payload, sum := sealed[:len(sealed)-cursorMACSize], sealed[len(sealed)-cursorMACSize:]
	mac := hmac.New(sha256.New, t.cursorKey)
	mac.Write(payload)
	if !hmac.Equal(sum, mac.Sum(nil)[:cursorMACSize]) {
		return nil, ErrInvalidCursor
	}
	return payload, nil
}
