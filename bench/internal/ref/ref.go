// Package ref is what the benchmark's reference servers share, so that they
// differ from each other and from the product only in how they build the
// answer: the bearer-token check, the same HS256 verification the product
// does (golang-jwt, HS256 only, exp required, 30 s leeway, a user token has
// a sub and no typ), so every row pays the same per-request JWT cost,
// including the product's memory of tokens that verified before (a token
// seen again is not parsed again until it expires); and the database
// pool's size.
package ref

import (
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
)

// Unauthorized is the contract's 401 body (../shared/contract/unauthorized.json).
const Unauthorized = `{"statusCode":401,"message":"Unauthorized"}`

type claims struct {
	Type string `json:"typ,omitempty"`
	jwt.RegisteredClaims
}

// Verifier checks user tokens signed with one secret.
type Verifier struct {
	key    []byte
	parser *jwt.Parser
	seen   *lru.Cache[string, verified]
}

type verified struct {
	userID string
	until  time.Time
}

const leeway = 30 * time.Second

// NewVerifier returns a Verifier for tokens signed with secret.
func NewVerifier(secret []byte) *Verifier {
	seen, err := lru.New[string, verified](2048)
	if err != nil {
		panic(err)
	}
	return &Verifier{key: secret, seen: seen, parser: jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
	)}
}

// UserID returns the user id of the request's bearer token, or "" when
// there is none or it does not verify.
func (v *Verifier) UserID(r *http.Request) string {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	if seen, ok := v.seen.Get(raw); ok && time.Now().Before(seen.until) {
		return seen.userID
	}
	var c claims
	if _, err := v.parser.ParseWithClaims(raw, &c, v.keyFunc); err != nil || c.Type != "" {
		return ""
	}
	v.seen.Add(raw, verified{userID: c.Subject, until: c.ExpiresAt.Add(leeway)})
	return c.Subject
}

func (v *Verifier) keyFunc(*jwt.Token) (any, error) { return v.key, nil }

// WriteUnauthorized answers 401 with the contract's body.
func WriteUnauthorized(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(Unauthorized))
}

// PoolConns is the references' pool size: the product's default admission
// limit (two requests per core), so every server in the benchmark runs as
// many requests' statements at once against the same two cores.
func PoolConns() int32 { return int32(max(1, 2*runtime.GOMAXPROCS(0))) }
