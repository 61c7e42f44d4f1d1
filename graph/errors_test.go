package graph

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/service"
)

// The codes gqlgen sets itself reach clients as apperr names them, so the
// vocabulary (and the README's table of it) holds for them too.
func TestGqlgenCodes_AreTheVocabularys(t *testing.T) {
	tokens := auth.NewTokens([]byte("gqlgen-codes-test-secret-32bytes"), time.Hour)
	svc := service.New(service.Deps{DB: dbtest.Open(t, "sqlite"), Tokens: tokens})
	h := wrap(tokens, NewHandler(svc, slog.New(slog.NewTextHandler(io.Discard, nil)), HandlerConfig{Limits: DefaultLimits()}))
	for _, c := range []struct {
		name string
		body map[string]any
		want apperr.Code
	}{
		{"unparsable document", map[string]any{"query": "{"}, apperr.GraphQLParseFailed},
		{"field not in the schema", map[string]any{"query": "{ nope }"}, apperr.GraphQLValidationFailed},
		{"persisted query hash alone", map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{
			"version": 1, "sha256Hash": "ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38",
		}}}, apperr.PersistedQueryNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			body, _ := json.Marshal(c.body)
			req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var resp struct {
				Errors []struct {
					Extensions struct{ Code string } `json:"extensions"`
				} `json:"errors"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || len(resp.Errors) != 1 {
				t.Fatalf("answer %s (%v), want one error", rec.Body, err)
			}
			if got := resp.Errors[0].Extensions.Code; got != string(c.want) {
				t.Errorf("code %q, want %q", got, c.want)
			}
		})
	}
}
