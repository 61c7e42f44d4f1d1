// Package harness starts the real NeuronMeet wiring for end-to-end tests
// and drives it as clients do: over HTTP (GraphQL and REST), websockets
// (graphql-transport-ws) and SSE. A test starts a server with Start (or two
// with TwoInstances), talks to it through the Server's Client, and checks
// the database with the helpers here. GoAlert's test/smoke harness is the
// model: one way to start the app, one client, one place for each rule.
package harness

import (
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Secret signs every token in the end-to-end tests.
const Secret = "end-to-end-test-secret-of-32-bytes!"

// Password is the password Client.Register gives every account.
const Password = "correct-horse"

// defaultEnv is the configuration every test server starts from, whatever
// the mode; WithEnv overrides it.
var defaultEnv = map[string]string{
	"JWT_SECRET": Secret,
	// The cheapest cost bcrypt allows: tests sign in constantly.
	"BCRYPT_COST": "4",
	// The stories register and join from one address far faster than a
	// person would; rate_limits_test.go turns the limits on.
	"RATE_LIMITS": "off",
	// Every fast-path answer is checked against gqlgen's executor too; a
	// difference fails the request and the run (see main_test.go).
	"GRAPHQL_FASTPATH_SHADOW": "on",
}

// benchmarkEnv is applied before a benchmark's own overrides: benchmarks
// measure the production configuration.
var benchmarkEnv = map[string]string{"GRAPHQL_FASTPATH_SHADOW": "off"}

// Env returns the default configuration with each of overrides applied in
// turn.
func Env(overrides ...map[string]string) map[string]string {
	env := maps.Clone(defaultEnv)
	for _, o := range overrides {
		maps.Copy(env, o)
	}
	// APP_ENV=production refuses the shadow, so a production server runs
	// without it unless a test asks for it (to see the refusal).
	if strings.EqualFold(env["APP_ENV"], "production") && !slices.ContainsFunc(overrides, func(o map[string]string) bool {
		_, set := o["GRAPHQL_FASTPATH_SHADOW"]
		return set
	}) {
		delete(env, "GRAPHQL_FASTPATH_SHADOW")
	}
	return env
}

// Clock is the time an in-process server's service stamps its writes with:
// the real time plus an offset that Advance moves forward, so that a test
// can make two writes' times differ without sleeping, and the times stay
// close to the real ones (tokens and rate limits keep the real clock).
type Clock struct{ offset atomic.Int64 }

// Now is the clock's time.
func (c *Clock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }
