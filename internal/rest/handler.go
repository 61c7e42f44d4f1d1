// Package rest is the thin REST shim for legacy clients. Each handler
// decodes a request, calls the same service code the GraphQL resolvers call,
// and writes the legacy NestJS-shaped response. It holds no rules or queries.
package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/respcache"
	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/internal/strictjson"
	"github.com/neuronmeet/api/models"
)

// MaxBodyBytes caps request bodies; the legacy forms are tiny.
const MaxBodyBytes = 64 << 10

// Handler serves the REST routes.
type Handler struct {
	svc *service.Service
	log *slog.Logger
	// answers, when set, keeps GET /users/me/rooms answers (see
	// myRoomsCached).
	answers *respcache.Cache
}

// New returns the REST shim over svc; answers is the response cache, or
// nil for none.
func New(svc *service.Service, log *slog.Logger, answers *respcache.Cache) *Handler {
	// The document is converted at start-up, so a request never waits on
	// it; a document that does not load is logged here and answered 500.
	if _, err := openAPIJSON(); err != nil {
		log.Error("rest: the OpenAPI document does not load", "err", err)
	}
	return &Handler{svc: svc, log: log, answers: answers}
}

// Register adds the REST routes to mux, each both bare and under /api (the
// legacy deployment's prefix). Under /api, a route that does not exist
// answers the legacy 404 body instead of ServeMux's plain text.
func (h *Handler) Register(mux *http.ServeMux) {
	for pattern, fn := range h.routes() {
		method, path, _ := strings.Cut(pattern, " ")
		mux.HandleFunc(pattern, fn)
		mux.HandleFunc(method+" /api"+path, fn)
	}
	for pattern, fn := range h.apiRoot() {
		mux.HandleFunc(pattern, fn)
	}
	mux.HandleFunc("GET /api/{$}", h.serverRunning)
	mux.HandleFunc("/api/", h.notFound)
}

// apiRoot is the legacy root route, served only under /api: the bare GET /
// is the playground's. openapi.yaml describes it as /api.
func (h *Handler) apiRoot() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{"GET /api": h.serverRunning}
}

// routes is every REST route, by its ServeMux pattern; openapi.yaml
// describes each (TestOpenAPI_DescribesEveryRoute).
func (h *Handler) routes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"GET /health":       h.health,
		"GET /openapi.json": h.openAPI,

		"POST /auth/register": h.register,
		"POST /auth/login":    h.login,
		"GET /auth/me":        h.authMe,

		"GET /users/me/rooms": h.myRooms,
		"GET /users/{id}":     h.user,
		"PATCH /users/me":     h.updateMe,

		"POST /rooms":                         h.createRoom,
		"GET /rooms/{id}":                     h.room,
		"GET /rooms/{ref}/{sub}":              h.roomCodeOrParticipants,
		"GET /rooms/code/{code}/participants": h.attendees,
		"PATCH /rooms/{id}/settings":          h.updateSettings,
		"DELETE /rooms/{id}":                  h.endRoom,
		"POST /rooms/{code}/join":             h.join,
		"POST /rooms/participants/{id}/leave": h.leave,
	}
}

// health is the legacy deployment's health check (GET /api/health); the
// same liveness answer as /healthz.
func (h *Handler) health(w http.ResponseWriter, _ *http.Request) {
	writeJSONBytes(w, http.StatusOK, []byte(`{"status":"ok"}`))
}

// notFound is Express's answer for a route it does not have.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	writeLegacyError(w, http.StatusNotFound, "Cannot "+r.Method+" "+r.URL.Path)
}

// signedIn reports whether the request carries a valid user token, and
// answers the contract's 401 when it does not. Protected routes call it
// before reading their body: the legacy guards ran before validation, so
// an anonymous caller learns nothing about what the body should be.
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request) bool {
	if _, err := h.svc.Viewer(r.Context()); err != nil {
		h.error(w, r, err)
		return false
	}
	return true
}

// unauthorizedBody is the contract's exact 401 body for protected routes.
var unauthorizedBody = []byte(`{"statusCode":401,"message":"Unauthorized"}`)

var statusOf = map[apperr.Code]int{
	apperr.BadUserInput:    http.StatusBadRequest,
	apperr.Unauthenticated: http.StatusUnauthorized,
	apperr.Forbidden:       http.StatusForbidden,
	apperr.NotFound:        http.StatusNotFound,
	apperr.Conflict:        http.StatusConflict,
	apperr.TooManyRequests: http.StatusTooManyRequests,
}

// error writes err in the legacy shape {"message", "error", "statusCode"}:
// validation errors carry a message array, as class-validator produced.
// A failed bearer check (any UNAUTHENTICATED but a failed login) gets the
// contract's exact 401 body and a Bearer challenge. Internal errors are
// logged and answered with a bare 500.
func (h *Handler) error(w http.ResponseWriter, r *http.Request, err error) {
	appErr, ok := apperr.As(err)
	if !ok && db.IsUnavailable(err) {
		// The database is down, restarting or too slow: not a bug, and
		// worth a retry, as GraphQL's SERVICE_UNAVAILABLE says too.
		h.log.WarnContext(r.Context(), "rest handler: database unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "1")
		writeLegacyError(w, http.StatusServiceUnavailable, "Service temporarily unavailable")
		return
	}
	var refused *statusError
	if !ok && errors.As(err, &refused) {
		writeLegacyError(w, refused.status, refused.message)
		return
	}
	if !ok {
		h.log.ErrorContext(r.Context(), "rest handler failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeLegacyError(w, http.StatusInternalServerError, "Internal server error")
		return
	}
	if appErr.Code == apperr.Unauthenticated && !errors.Is(err, service.ErrInvalidCredentials) {
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeJSONBytes(w, http.StatusUnauthorized, unauthorizedBody)
		return
	}
	status := statusOf[appErr.Code]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if appErr.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((appErr.RetryAfter+time.Second-1)/time.Second), 10))
	}
	if status == http.StatusUnauthorized {
		// Every 401 carries a challenge (RFC 9110); the body stays legacy.
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	if appErr.Code == apperr.BadUserInput {
		writeLegacyError(w, status, appErr.Messages())
		return
	}
	writeLegacyError(w, status, capitalize(appErr.Message))
}

type legacyError struct {
	Message    any    `json:"message"`
	Error      string `json:"error"`
	StatusCode int    `json:"statusCode"`
}

func writeLegacyError(w http.ResponseWriter, status int, message any) {
	writeJSON(w, status, legacyError{Message: message, Error: http.StatusText(status), StatusCode: status})
}

// capitalize matches the legacy messages ("Room not found").
func capitalize(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}

// writeJSON writes v as JavaScript's JSON.stringify would (the legacy
// serializer): <, > and & stay as they are rather than \u003c escapes.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"statusCode":500,"message":"Internal server error"}`, http.StatusInternalServerError)
		return
	}
	writeJSONBytes(w, status, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// jsonContentType is the legacy service's (Express's) JSON content type.
const jsonContentType = "application/json; charset=utf-8"

func writeJSONBytes(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", jsonContentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// decodeBody reads a JSON object into dst, refusing unknown keys the way
// the legacy validation pipe did ("property x should not exist").
func decodeBody(w http.ResponseWriter, r *http.Request, dst any) error {
	return decode(w, r, dst, false)
}

// decodeOptionalBody is decodeBody for forms whose every field is
// optional: no body at all counts as {}, as it did for the legacy server.
func decodeOptionalBody(w http.ResponseWriter, r *http.Request, dst any) error {
	return decode(w, r, dst, true)
}

// errNotJSON refuses a body that does not say it is JSON.
var errNotJSON = &statusError{http.StatusUnsupportedMediaType, "Content-Type must be application/json"}

// statusError is a refusal of the request itself, before its fields are
// looked at, answered with its own status.
type statusError struct {
	status  int
	message string
}

func (e *statusError) Error() string { return e.message }

func decode(w http.ResponseWriter, r *http.Request, dst any, emptyOK bool) error {
	// A cross-site page can POST text/plain, form and multipart bodies
	// without a preflight, so a route that took them would let it sign
	// its visitors up, join rooms or try passwords from their browsers.
	// Only JSON is taken; no body at all, without a type, is still {}.
	ct := r.Header.Get("Content-Type")
	if ct != "" && !isJSON(ct) {
		return errNotJSON
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return apperr.Invalid("", "request body too large")
	case err != nil: // the client broke off or sent a broken chunk
		return apperr.Invalid("", "request body must be valid JSON")
	case ct == "" && len(body) > 0:
		return errNotJSON
	case len(bytes.TrimSpace(body)) == 0:
		if emptyOK {
			return nil
		}
		return apperr.Invalid("", "request body must be a JSON object")
	}
	err = strictjson.Unmarshal(body, dst, strictjson.Options{DisallowUnknownFields: true})
	if err == nil {
		return nil
	}
	var (
		typeErr *json.UnmarshalTypeError
		caseErr *strictjson.KeyCaseError
		dupErr  *strictjson.DuplicateKeyError
	)
	switch {
	case errors.As(err, &typeErr) && typeErr.Field == "":
		// The body itself is the wrong type (an array, a string, ...).
		return apperr.Invalid("", "request body must be a JSON object")
	case errors.As(err, &typeErr):
		return apperr.Invalid(typeErr.Field, typeErr.Field+" must be "+jsonTypeName(typeErr.Type.String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apperr.Invalid(field, "property "+field+" should not exist")
	case errors.As(err, &caseErr):
		// The legacy whitelist compared names exactly: EMAIL is not email.
		return apperr.Invalid(caseErr.Key, "property "+caseErr.Key+" should not exist")
	case errors.As(err, &dupErr):
		return apperr.Invalid(dupErr.Key, dupErr.Key+" must not be given more than once")
	default:
		return apperr.Invalid("", "request body must be valid JSON")
	}
}

// isJSON reports whether a Content-Type says JSON: application/json, with
// parameters or not, in UTF-8 if it names a charset (JSON is UTF-8).
func isJSON(contentType string) bool {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "application/json" {
		return false
	}
	charset, ok := params["charset"]
	return !ok || strings.EqualFold(charset, "utf-8")
}

func jsonTypeName(goType string) string {
	goType = strings.TrimPrefix(goType, "*")
	// class-validator's wording, which legacy clients may display.
	switch goType {
	case "string":
		return "a string"
	case "bool":
		return "a boolean value"
	case "int", "int64":
		return "an integer number"
	case "float64":
		return "a number"
	default:
		return "a valid value"
	}
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = models.AppendTime(b, t)
	return append(b, '"')
}

func appendNullableTime(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return appendTime(b, *t)
}
