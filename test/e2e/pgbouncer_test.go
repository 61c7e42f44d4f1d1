package e2e

// Behind PgBouncer in transaction mode, as production runs: two instances
// whose pools go through one PgBouncer (DATABASE_POOLER=pgbouncer) and
// whose LISTEN connections go straight to PostgreSQL
// (DATABASE_LISTEN_URL) tell the meeting story, deliver live events
// across each other (hosts' feeds in commit order too), and share one
// rate-limit allowance.

import (
	"testing"

	"github.com/neuronmeet/api/test/harness"
)

func TestPgBouncer_TwoInstancesTellTheStory(t *testing.T) {
	bouncer := harness.StartPgBouncer(t)
	a, b, _ := harness.TwoInstancesBehindPgBouncer(t, bouncer)
	t.Run("meeting story", func(t *testing.T) { meetingStory(t, a) })
	t.Run("live events across instances", func(t *testing.T) { crossInstanceInOrder(t, a, b) })
}

// Behind PgBouncer the NOTIFY still runs in each change's transaction (a
// pooled transaction keeps one server connection), so the hosts' feeds
// keep each room's commit order.
func TestPgBouncer_MyRoomsInCommitOrder(t *testing.T) {
	bouncer := harness.StartPgBouncer(t)
	a, b, _ := harness.TwoInstancesBehindPgBouncer(t, bouncer)
	eachRoomsEventsInCommitOrder(t, a, b)
}

func TestPgBouncer_RateLimitsSharedThroughIt(t *testing.T) {
	bouncer := harness.StartPgBouncer(t)
	a, b, _ := harness.TwoInstancesBehindPgBouncer(t, bouncer, harness.WithEnv(acrossInstances("postgres")))
	spendAcross(t, a, b, true)
}
