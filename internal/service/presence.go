package service

import (
	"slices"

	"github.com/neuronmeet/api/models"
)

// span is one person's presence in one room, their presences there merged:
// the half-open interval [from, to) in milliseconds since the epoch. A
// presence still open in an active room lasts until roomSpans' openTo.
type span struct {
	person   string
	from, to int64
}

// roomSpans is the one definition of who is present in a room when, used
// by Room.stats (ComputeRoomStats) and User.usage alike: each participant
// row is the half-open interval [joinedAt, leftAt), so a leave and a join
// at the same millisecond do not overlap; a row still open lasts until the
// room's endedAt, or while the room is active until openTo (now, to count
// how long people have been there; math.MaxInt64, "for ever", to count who
// is there, so that someone who has just joined is present at now); a
// closed row counts whole, even past now (a clock behind another
// instance's); a person is a user
// (every presence of theirs in the room merged into one union, so a user
// present twice at once counts once) or a guest participant (each a
// person of their own). The spans it returns are disjoint per person.
//
// people is how many persons joined at all, a presence of no length
// (joined and left at one millisecond) included.
func roomSpans(room *models.Room, participants []*models.Participant, openTo int64) (spans []span, people int) {
	openUntil := openTo
	if room.EndedAt != nil {
		openUntil = room.EndedAt.UnixMilli()
	}
	type interval struct{ from, to int64 }
	byPerson := make(map[string][]interval, len(participants))
	for _, p := range participants {
		person := p.ID // a guest participant is a person of its own
		if p.UserID != nil {
			person = "u:" + *p.UserID
		}
		until := openUntil
		if p.LeftAt != nil {
			until = p.LeftAt.UnixMilli()
		}
		list := byPerson[person]
		if from := p.JoinedAt.UnixMilli(); until > from {
			list = append(list, interval{from, until})
		}
		byPerson[person] = list
	}
	spans = make([]span, 0, len(participants))
	for person, list := range byPerson {
		slices.SortFunc(list, func(a, b interval) int { return compareInt64(a.from, b.from) })
		for i := 0; i < len(list); {
			cur := list[i]
			j := i + 1
			// Touching intervals ([a,b) and [b,c)) merge too: the person
			// never left, and counting them as one keeps the peak exact.
			for j < len(list) && list[j].from <= cur.to {
				cur.to = max(cur.to, list[j].to)
				j++
			}
			spans = append(spans, span{person, cur.from, cur.to})
			i = j
		}
	}
	return spans, len(byPerson)
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
func measurePresence(spans []span, from, to, countTo int64, people map[string]struct{}) presenceMeasure {
	type edge struct {
		at    int64
		delta int
	}
	var m presenceMeasure
	edges := make([]edge, 0, 2*len(spans))
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
		if c := compareInt64(a.at, b.at); c != 0 {
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
