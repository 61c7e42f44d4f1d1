// Package harness starts the real NeuronMeet wiring for end-to-end tests
// and drives it as clients do: over HTTP (GraphQL and REST), websockets
// (graphql-transport-ws) and SSE. A test starts a server with Start (or two
// with TwoInstances), talks to it through the Server's Client, and checks
// the database with the helpers here. GoAlert's test/smoke harness is the
// model: one way to start the app, one client, one place for each rule.
package harness

import (
	"maps"
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
}

// Env returns the default configuration with each of overrides applied in
// turn.
func Env(overrides ...map[string]string) map[string]string {
	env := maps.Clone(defaultEnv)
	for _, o := range overrides {
		maps.Copy(env, o)
	}
	return env
}

// Pause makes the next write's millisecond timestamp strictly later than
// the last one's, for tests that order by time.
func Pause() { time.Sleep(5 * time.Millisecond) }
