package graph

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

const benchDocument = `{ me { rooms { id code name hostId isActive isLocked startedAt endedAt createdAt updatedAt
	host { displayName } settings { allowChat allowScreenShare allowGuestAccess waitingRoom muteParticipantsOnJoin maxParticipants }
	participants { id roomId userId guestName isActive isHost joinedAt leftAt user { displayName } } } } }`

var defaultLimits = DefaultLimits()

func opContext(tb testing.TB, query string) *graphql.OperationContext {
	tb.Helper()
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, defaultLimits.MaxTokens)
	if err != nil {
		tb.Fatal(err)
	}
	if errs := validator.Validate(schema, doc); len(errs) > 0 {
		tb.Fatal(errs)
	}
	return &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0], Variables: map[string]any{}}
}

// The limits' walk is a small fraction of a request (tens of
// microseconds against milliseconds): measured, not assumed.
func BenchmarkLimits_LargestClientQuery(b *testing.B) {
	opCtx := opContext(b, benchDocument)
	ext := limitsExtension{defaultLimits}
	b.ReportAllocs()
	for b.Loop() {
		if err := ext.MutateOperationContext(context.Background(), opCtx); err != nil {
			b.Fatal(err)
		}
	}
}

// The worst document the token limit lets through: 2,000 tokens of
// aliased fields (330 of them, 6 tokens each), which parses and validates
// (overlapping-field checks are quadratic in them) before the alias limit
// refuses it. That is what an attacker can make each request cost.
func BenchmarkLimits_ParseAndValidateAtTheTokenLimit(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("{")
	for i := 0; i < 330; i++ {
		fmt.Fprintf(&sb, " a%d: me { id }", i)
	}
	sb.WriteString(" }")
	query := sb.String()
	schema := NewExecutableSchema(Config{Resolvers: &Resolver{}}).Schema()
	b.ReportAllocs()
	for b.Loop() {
		doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, defaultLimits.MaxTokens)
		if err != nil {
			b.Fatal(err)
		}
		if errs := validator.Validate(schema, doc); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

func TestLimits_LargestClientQueryCost(t *testing.T) {
	m := &measure{limits: defaultLimits, limit: defaultLimits.MaxComplexity}
	opCtx := opContext(t, benchDocument)
	if cost := m.selectionCost(opCtx.Operation.SelectionSet, 1, false); cost != 102002 {
		t.Errorf("cost %d, want 102,002 (see the README)", cost)
	}
	if m.depth != 5 || m.aliases != 0 {
		t.Errorf("depth %d, aliases %d; want 5 and 0", m.depth, m.aliases)
	}
}

// What the subscription limit's default (1,000) was chosen against: the
// fullest roomEvents selection a client needs costs 28, the red team's
// nested one 40,304.
func TestLimits_SubscriptionCosts(t *testing.T) {
	for doc, want := range map[string]int{
		`subscription { roomEvents(roomId: "r") { roomId type time roomName
			participant { id roomId userId guestName displayName isActive isHost joinedAt leftAt user { id displayName avatarUrl } }
			settings { allowChat allowScreenShare allowGuestAccess waitingRoom muteParticipantsOnJoin maxParticipants allowParticipantVideo allowParticipantAudio } } }`: 28,
		`subscription { roomEvents(roomId: "r") { participant { user { rooms { id name participants { id displayName user { displayName } } } } } } }`: 40304,
		// A live dashboard's row: the room afresh with who is in it, under
		// the limit with room to spare.
		`subscription { myRooms { type roomId time activeParticipants
			room { id name isActive isLocked settings { allowChat } participants(activeOnly: true) { id displayName user { displayName avatarUrl } } }
			participant { id displayName user { displayName } } } }`: 518,
		// The room's whole history with each participant's rooms is not.
		`subscription { myRooms { room { participants { user { rooms { id } } } } } }`: 10203,
	} {
		m := &measure{limits: defaultLimits, limit: defaultLimits.MaxComplexity}
		if cost := m.selectionCost(opContext(t, doc).Operation.SelectionSet, 1, false); cost != want {
			t.Errorf("cost %d, want %d: %s", cost, want, doc)
		}
	}
}
