package service

import (
	"net/mail"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

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

// MaxCombiningRun is the most combining marks a name may stack on one
// character. Real scripts need up to three or four (Hebrew with points and
// a cantillation mark, Vietnamese typed decomposed, Tibetan stacks; NFC
// folds most into one character anyway); floods of dozens ("Zalgo" text)
// spill over the lines above and below wherever the name is shown.
const MaxCombiningRun = 4

// checkName is the one rule for names people choose and others see
// (display names, guest names, room names), wherever they enter: it
// returns the name as stored, in NFC and trimmed, or why it is refused.
//
// A name is read by other people in rosters, logs and terminals, so it may
// hold only what shows as text: no control characters (CR, LF, BEL, the ESC
// of ANSI sequences), no bidi overrides or isolates (they reorder what
// follows the name on screen), no other format characters (zero-width
// spaces, soft hyphens, invisible operators, tags), no line separators and
// no filler characters that draw nothing (Hangul fillers, the blank braille
// pattern). Zero-width joiners and non-joiners stay, one at a time and
// between two characters: emoji sequences (👩‍💻), Persian and Indic
// scripts need them. It must hold a letter, digit, punctuation or symbol,
// and no more than MaxCombiningRun combining marks on one character (and
// none before the first). Its length, min to max, counts code points
// after NFC, as stored.
func checkName(field, s string, min, max int) (string, error) {
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return "", apperr.Invalid(field, field+" must be valid text")
	}
	s = strings.TrimSpace(norm.NFC.String(s))
	// Too short first (an empty name is told its length), too long last:
	// NFC puts a U+034F after every 30 marks in a row (stream-safe text),
	// so a flood is told it is a flood rather than that it is long.
	n := utf8.RuneCountInString(s)
	if n < min {
		return "", errLength(field, min, max)
	}
	var (
		prev    rune = -1
		marks   int
		visible bool
	)
	for i, r := range s {
		switch {
		case isJoiner(r):
			next, _ := utf8.DecodeRuneInString(s[i+utf8.RuneLen(r):])
			if prev == -1 || isJoiner(prev) || i+utf8.RuneLen(r) == len(s) || isJoiner(next) {
				return "", apperr.Invalid(field, field+" must not contain control, formatting or invisible characters")
			}
		case unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) || isFiller(r):
			return "", apperr.Invalid(field, field+" must not contain control, formatting or invisible characters")
		}
		if unicode.Is(unicode.M, r) {
			marks++
			if prev == -1 || marks > MaxCombiningRun {
				return "", apperr.Invalid(field, field+" must not stack more than "+strconv.Itoa(MaxCombiningRun)+" combining marks on one character")
			}
		} else {
			marks = 0
		}
		if unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S) {
			visible = true
		}
		prev = r
	}
	if !visible {
		return "", apperr.Invalid(field, field+" must contain a letter, digit, punctuation or symbol")
	}
	if n > max {
		return "", errLength(field, min, max)
	}
	return s, nil
}

func errLength(field string, min, max int) error {
	if min == max {
		return apperr.Invalid(field, field+" must be exactly "+strconv.Itoa(min)+" characters")
	}
	return apperr.Invalid(field, field+" must be between "+strconv.Itoa(min)+" and "+strconv.Itoa(max)+" characters")
}

// isJoiner reports the zero-width joiner and non-joiner, the only format
// characters with a place in a name.
func isJoiner(r rune) bool { return r == '\u200d' || r == '\u200c' }

// isFiller reports letters and symbols that draw nothing: the Hangul
// fillers (used to make "blank" names) and the blank braille pattern. None
// has a use in a name that a space would not serve.
func isFiller(r rune) bool {
	switch r {
	case '\u115f', '\u1160', '\u3164', '\uffa0', '\u2800':
		return true
	}
	return false
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
