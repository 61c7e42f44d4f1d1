package app

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/neuronmeet/api/db/dbtest"
)

// WithClock reaches what clients are shown: a user registered through the
// wired handler was created at the clock's time, not the wall clock's.
func TestWithClock_TimesWhatTheServiceWrites(t *testing.T) {
	cfg, err := LoadConfig(envFrom(map[string]string{"BCRYPT_COST": "4", "RATE_LIMITS": "off", "METRICS": "off"}))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2031, 3, 4, 10, 0, 0, 987_654_321, time.UTC)
	a, err := New(cfg, dbtest.Open(t, "sqlite"), slog.New(slog.NewTextHandler(io.Discard, nil)), WithClock(func() time.Time { return at }))
	if err != nil {
		t.Fatal(err)
	}
	defer a.CloseLive()
	req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(
		`{"query":"mutation { register(input: {email: \"clock@example.com\", password: \"correct-horse\", displayName: \"Clock\"}) { user { createdAt } } }"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, req)
	if want := `{"data":{"register":{"user":{"createdAt":"2031-03-04T10:00:00.987Z"}}}}`; rec.Body.String() != want {
		t.Errorf("register answered %d %s, want %s", rec.Code, rec.Body, want)
	}
}
