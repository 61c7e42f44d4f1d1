package service

import (
	"cmp"
	"slices"
	"strings"

	"github.com/neuronmeet/api/models"
)

// span is one person's presence in one room, their presences there merged:
// the half-open interval [from, to) in milliseconds since the epoch. A
// presence still open in an active room lasts until roomSpans' openTo.
type span struct {
	person   person
	from, to int64
}

// person is who a presence is of: a user (id, their user id) or a guest
// participant (guest, id its participant id), each a person of their own.
type person struct {
	guest bool
	id    string
}

func comparePersons(a, b person) int {
	if a.guest != b.guest {
		if a.guest {
			return 1
		}
		return -1
	}
	return strings.Compare(a.id, b.id)
}

// roomSpans is the one definition of who is present in a room when, used
// by Room.stats (ComputeRoomStats) and User.usage alike: each participant
// row is the half-open interval [joinedAt, leftAt), so a leave and a join
// at the same millisecond do not overlap; a row still open lasts until the
// room's endedAt, or while the room is active until openTo (now, to count
// how long people have been there; math.MaxInt64, "for ever", to count who
// is there, so that someone who has just joined is present at now); a
// closed row counts whole, even past now (a clock behind another
// instance's); a person is a user (every presence of theirs in the room
// merged into one union, so a user present twice at once counts once) or
// a guest participant (each a person of their own). The spans it returns
// are disjoint per person.
//
// people is how many persons joined at all, a presence of no length
// (joined and left at one millisecond) included.
//
// The rows are sorted by person and merged in one slice, rather than
// grouped in a map of lists: a dashboard page computes this for every room
// it lists, twice, and the map cost a dozen allocations a room. For the
// same reason the rows go into buf when it has room (a caller's array on
// its stack), which the spans returned then share.
func roomSpans(buf []span, room *models.Room, participants []*models.Participant, openTo int64) (spans []span, people int) {
	openUntil := openTo
	if room.EndedAt != nil {
		openUntil = room.EndedAt.UnixMilli()
	}
	rows := buf[:0]
	if cap(rows) >= len(participants) {
		rows = rows[:len(participants)]
	} else {
		rows = make([]span, len(participants))
	}
	for i, p := range participants {
		who := person{guest: true, id: p.ID}
		if p.UserID != nil {
			who = person{id: *p.UserID}
		}
		until := openUntil
		if p.LeftAt != nil {
			until = p.LeftAt.UnixMilli()
		}
		rows[i] = span{who, p.JoinedAt.UnixMilli(), until}
	}
	slices.SortFunc(rows, func(a, b span) int {
		if c := comparePersons(a.person, b.person); c != 0 {
			return c
		}
		return cmp.Compare(a.from, b.from)
	})
	spans = rows[:0] // merged in place: never ahead of the row being read
	for i := 0; i < len(rows); {
		who := rows[i].person
		people++
		j := i
		for ; j < len(rows) && rows[j].person == who; j++ {
			cur := rows[j]
			if cur.to <= cur.from {
				continue // a presence of no length: a person, present at no instant
			}
			// Touching intervals ([a,b) and [b,c)) merge too: the person
			// never left, and counting them as one keeps the peak exact.
			if n := len(spans); n > 0 && spans[n-1].person == who && cur.from <= spans[n-1].to {
				spans[n-1].to = max(spans[n-1].to, cur.to)
				continue
			}
			spans = append(spans, cur)
		}
		i = j
	}
	return spans, people
}

// presenceMeasure is what a set of spans amounts to within a window.
type presenceMeasure struct {
	// peak is the most spans covering one instant of the window.
	peak int
	// millis sums the spans' lengths within the window, up to countTo.
	millis int64
}

// measurePresence measures spans within the window of instants [from, to),
// counting their lengths only up to countTo (now, or a room's end: an open
// presence is there at now, but has lasted only until now). The spans of
// one person must be disjoint (roomSpans'), or be of different rooms: a
// person in two rooms at once is counted in each. people, unless nil,
// receives every person present at an instant of the window (Room.stats
// counts its people otherwise, and spares the map).
func measurePresence(spans []span, from, to, countTo int64, people map[person]struct{}) presenceMeasure {
	type edge struct {
		at    int64
		delta int
	}
	var m presenceMeasure
	// A room's few spans sort on the stack: a dashboard measures every
	// room of its page twice.
	var stack [64]edge
	edges := stack[:0]
	if 2*len(spans) > len(stack) {
		edges = make([]edge, 0, 2*len(spans))
	}
	countEnd := min(to, countTo)
	for _, s := range spans {
		a, b := max(s.from, from), min(s.to, to)
		if b <= a {
			continue
		}
		if people != nil {
			people[s.person] = struct{}{}
		}
		edges = append(edges, edge{a, +1}, edge{b, -1})
		if e := min(b, countEnd); e > a {
			m.millis += e - a
		}
	}
	// At one instant leaves come before joins: half-open intervals.
	slices.SortFunc(edges, func(a, b edge) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return a.delta - b.delta
	})
	present := 0
	for _, e := range edges {
		present += e.delta
		m.peak = max(m.peak, present)
	}
	return m
}
