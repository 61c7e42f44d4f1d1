package requestid

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMiddleware_AdoptsSafeIDsAndMakesUpOthers(t *testing.T) {
	var seen string
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = FromContext(r.Context()) }))
	for in, adopt := range map[string]bool{
		"":                      false,
		"abc-123_DEF.4":         true,
		strings.Repeat("a", 64): true,
		strings.Repeat("a", 65): false,
		"bad id":                false,
		"x\r\nSet-Cookie: a=b":  false,
		"<script>":              false,
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if in != "" {
			r.Header[Header] = []string{in}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		got := w.Header().Get(Header)
		if got != seen {
			t.Errorf("%q: header %q, context %q", in, got, seen)
		}
		if adopt && got != in {
			t.Errorf("%q: not adopted (got %q)", in, got)
		}
		if !adopt && (got == in || len(got) != 32) {
			t.Errorf("%q: got %q, want a fresh 32-hex-digit id", in, got)
		}
	}
}

func TestLogHandler_AddsTheRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "x")
	log.InfoContext(With(t.Context(), "req-1"), "hello")
	log.Info("no context")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"request_id":"req-1"`) || strings.Contains(lines[1], "request_id") {
		t.Errorf("log lines:\n%s", buf.String())
	}
}
