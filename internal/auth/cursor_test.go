package auth

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// A cursor opens to what was sealed, only under the secret that sealed
// it, and not once any byte of it changes; a token is never a cursor.
func TestCursor_OpensOnlyWhatThisSecretSealed(t *testing.T) {
	tokens := NewTokens([]byte("a-test-secret-that-is-32-bytes!!"), time.Hour)
	payload := []byte(`{"v":1,"l":"hosted","u":"cu1","o":"NAME ASC","s":"Standup","i":"cu2"}`)
	cursor := tokens.SealCursor(payload)
	if got, err := tokens.OpenCursor(cursor); err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("open: %q, %v", got, err)
	}
	other := NewTokens([]byte("another-secret-that-is-32-bytes!"), time.Hour)
	token, err := tokens.IssueUser("cu1", "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]string{
		"another secret's": other.SealCursor(payload),
		"empty":            "",
		"not base64":       "!!!",
		"a user token":     token,
	} {
		if _, err := tokens.OpenCursor(c); !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("%s: %v, want ErrInvalidCursor", name, err)
		}
	}
	// Payload lengths leaving a partial last character of base64 too.
	for _, extra := range []string{"", "x", "xy"} {
		payload := append(append([]byte(nil), payload...), extra...)
		cursor := tokens.SealCursor(payload)
		for i := range cursor {
			b := []byte(cursor)
			b[i] ^= 1
			if _, err := tokens.OpenCursor(string(b)); err == nil {
				t.Fatalf("a cursor of %d bytes with byte %d changed opened", len(payload), i)
			}
		}
	}
}
