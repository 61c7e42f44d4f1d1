package service

import (
	"net/mail"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/neuronmeet/api/internal/apperr"
)

// Input limits, shared by GraphQL and REST.
const (
	MinPasswordBytes    = 8
	MaxPasswordBytes    = 72 // bcrypt ignores anything beyond; refuse, never truncate
	MinDisplayName      = 2
	MaxDisplayName      = 50
	MaxEmailLength      = 320
	MinRoomName         = 1
	MaxRoomName         = 100
	MinParticipants     = 2
	MaxParticipants     = 100
	DefaultParticipants = 50
	DefaultRoomName     = "Meeting Room"
	MinGuestName        = 1
	MaxGuestName        = 50
	MaxPageSize         = 100
)

// normalizeEmail trims and lower-cases an email and checks it is a bare
// address (no display name, no angle brackets).
func normalizeEmail(raw string) (string, error) {
	email := strings.ToLower(strings.TrimSpace(raw))
	if email == "" {
		return "", apperr.Invalid("email", "email must not be empty")
	}
	if len(email) > MaxEmailLength || strings.ContainsRune(email, 0) {
		return "", apperr.Invalid("email", "email must be an email")
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || !strings.Contains(email[strings.LastIndexByte(email, '@'):], ".") {
		return "", apperr.Invalid("email", "email must be an email")
	}
	return email, nil
}

// checkText trims s and checks its length in characters is within [min, max].
func checkText(field, s string, min, max int) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return "", apperr.Invalid(field, field+" must be valid text")
	}
	n := utf8.RuneCountInString(s)
	if n < min || n > max {
		if min == max {
			return "", apperr.Invalid(field, field+" must be exactly "+strconv.Itoa(min)+" characters")
		}
		return "", apperr.Invalid(field, field+" must be between "+strconv.Itoa(min)+" and "+strconv.Itoa(max)+" characters")
	}
	return s, nil
}

func checkPassword(p string) error {
	if len(p) < MinPasswordBytes || len(p) > MaxPasswordBytes {
		return apperr.Invalid("password", "password must be between 8 and 72 bytes")
	}
	if strings.ContainsRune(p, 0) {
		return apperr.Invalid("password", "password must not contain NUL bytes")
	}
	return nil
}

func checkMaxParticipants(n int) error {
	if n < MinParticipants || n > MaxParticipants {
		return apperr.Invalid("maxParticipants", "maxParticipants must be between 2 and 100")
	}
	return nil
}

// isKey reports whether s can be an id or a room code. Clients send them;
// one containing a NUL byte or invalid UTF-8 names nothing (no stored key
// contains either) and must not reach a query: Bun refuses to build one
// with a NUL, and PostgreSQL refuses invalid UTF-8 in a parameter of the
// native statements (SQLSTATE 22021). Callers answer as for any unknown
// key instead of with an internal error.
func isKey(s string) bool {
	return !strings.ContainsRune(s, 0) && utf8.ValidString(s)
}

// appendInvalid collects err into errs when it is an input error.
func appendInvalid(errs []*apperr.Error, err error) []*apperr.Error {
	if e, ok := apperr.As(err); ok {
		errs = append(errs, e)
	}
	return errs
}
