package service

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/models"
)

// RoomOrderField is what a connection of rooms is ordered by.
type RoomOrderField string

// The orders of a connection of rooms.
const (
	OrderCreatedAt        RoomOrderField = "CREATED_AT"
	OrderStartedAt        RoomOrderField = "STARTED_AT"
	OrderEndedAt          RoomOrderField = "ENDED_AT"
	OrderName             RoomOrderField = "NAME"
	OrderLastActivity     RoomOrderField = "LAST_ACTIVITY"
	OrderPeakParticipants RoomOrderField = "PEAK_PARTICIPANTS"
	// orderPresence is attended's own default, the user's latest join;
	// not in the schema's enum (it means nothing for one's own rooms).
	orderPresence RoomOrderField = "PRESENCE"
)

// OrderDirection is ascending or descending.
type OrderDirection string

// The directions.
const (
	OrderAsc  OrderDirection = "ASC"
	OrderDesc OrderDirection = "DESC"
)

// RoomOrder orders a connection of rooms; ties are broken by id, in the
// same direction.
type RoomOrder struct {
	Field     RoomOrderField `json:"field"`
	Direction OrderDirection `json:"direction"`
}

// RoomFilter narrows a connection of rooms; nil fields filter nothing.
type RoomFilter struct {
	Status *RoomStatus `json:"status"`
	// CreatedAfter and CreatedBefore are exclusive bounds.
	CreatedAfter  *time.Time `json:"createdAfter"`
	CreatedBefore *time.Time `json:"createdBefore"`
	// Search is a substring of the name, in any case; % and _ are
	// characters like any other.
	Search                *string `json:"search"`
	HasActiveParticipants *bool   `json:"hasActiveParticipants"`
}

// ConnectionArgs are a Relay connection's arguments.
type ConnectionArgs struct {
	Filter  *RoomFilter
	OrderBy *RoomOrder
	First   *int
	After   *string
	Last    *int
	Before  *string
	// WithSettings joins each room's settings into Room.JoinedSettings.
	WithSettings bool
	// WithCount reads TotalCount with the page, in its round trip on
	// PostgreSQL; without it TotalCount costs a statement of its own when
	// asked for.
	WithCount bool
}

// DefaultConnectionPage is a page's size without first or last.
const DefaultConnectionPage = 20

// RoomConnection is one page of a connection of rooms.
type RoomConnection struct {
	Edges    []*RoomEdge
	PageInfo PageInfo
	count    func(ctx context.Context) (int, error)
}

// Nodes are the page's rooms, the edges' nodes.
func (c *RoomConnection) Nodes() []*models.Room {
	out := make([]*models.Room, len(c.Edges))
	for i, e := range c.Edges {
		out[i] = e.Node
	}
	return out
}

// TotalCount counts every room the filter lets through, not only the
// page's: read with the page (ConnectionArgs.WithCount), or one statement
// run when asked for.
func (c *RoomConnection) TotalCount(ctx context.Context) (int, error) { return c.count(ctx) }

// RoomEdge is a room of a page and its cursor.
type RoomEdge struct {
	Node *models.Room
	// MyPresence is the user's latest presence in the room (attended only).
	MyPresence *Presence

	// The cursor is sealed once asked for: sealing one costs an HMAC and
	// two encodings, and a dashboard reading nodes asks for none. The
	// edges of a page share one source (no closure per edge).
	src    *cursorSource
	row    *connectionRow
	once   sync.Once
	cursor string
}

// cursorSource is what the cursors of a page are sealed with.
type cursorSource struct {
	s     *Service
	list  roomList
	order RoomOrder
}

// Cursor is the edge's position, opaque, for after and before.
func (e *RoomEdge) Cursor() string {
	e.once.Do(func() { e.cursor = e.src.s.encodeCursor(e.src.list, e.src.order, e.row.sortValue(), e.row.ID) })
	return e.cursor
}

// PageInfo is a Relay page's neighbourhood.
type PageInfo struct {
	HasNextPage     bool
	HasPreviousPage bool
	StartCursor     *string
	EndCursor       *string
}

// Presence is one presence of a user in a room.
type Presence struct {
	JoinedAt time.Time
	LeftAt   *time.Time
	// Seconds lasted, in whole seconds: until LeftAt, or until now while
	// the user is still there.
	Seconds int
}

// roomList is which rooms a connection lists: the rooms a user hosts, or
// those they attended.
type roomList struct {
	attended bool
	userID   string
}

func (l roomList) kind() string {
	if l.attended {
		return "attended"
	}
	return "hosted"
}

// RoomsConnection pages through the rooms userID hosts. Only the user
// themself may list them.
func (s *Service) RoomsConnection(ctx context.Context, userID string, args ConnectionArgs) (*RoomConnection, error) {
	return s.roomConnection(ctx, roomList{userID: userID}, args)
}

// AttendedConnection pages through the rooms userID joined without hosting
// them, by default the latest presence first, each with the user's latest
// presence. Only the user themself may list them.
func (s *Service) AttendedConnection(ctx context.Context, userID string, args ConnectionArgs) (*RoomConnection, error) {
	return s.roomConnection(ctx, roomList{attended: true, userID: userID}, args)
}

// sortColumn is what an order sorts by, in SQL, and how its values are
// carried in cursors.
type sortColumn struct {
	expr string
	// nullable columns sort NULL as later than every value (last going up,
	// first going down), as PostgreSQL's b-tree indexes hold them.
	nullable bool
	kind     byte // 't' time, 's' text, 'i' integer
}

func (s *Service) sortColumn(f RoomOrderField) (sortColumn, bool) {
	switch f {
	case OrderCreatedAt:
		return sortColumn{"room.created_at", false, 't'}, true
	case OrderStartedAt:
		return sortColumn{"room.started_at", true, 't'}, true
	case OrderEndedAt:
		return sortColumn{"room.ended_at", true, 't'}, true
	case OrderName:
		// Code-point order on both dialects (SQLite's BINARY; see the
		// room_stats migration's index).
		if s.postgres {
			return sortColumn{`room.name COLLATE "C"`, false, 's'}, true
		}
		return sortColumn{"room.name", false, 's'}, true
	case OrderLastActivity:
		return sortColumn{"room.last_activity_at", false, 't'}, true
	case OrderPeakParticipants:
		return sortColumn{"room.peak_participants", false, 'i'}, true
	case orderPresence:
		return sortColumn{"lp.last_joined_at", false, 't'}, true
	}
	return sortColumn{}, false
}

// sqlCond is a condition in SQL, its arguments marked ?. It is the one
// description of each filter and keyset rule: the Bun path passes it to
// Where as it is, the native path renders it with $n parameters
// (writeNative), so the two dialects' statements cannot drift apart.
type sqlCond struct {
	sql  string
	args []any
}

func cond(sql string, args ...any) sqlCond { return sqlCond{sql, args} }

// after is the condition for the rows strictly after (v, id) in the
// column's order, ascending or not; v nil is NULL.
func (c sortColumn) after(asc bool, v any, id string) sqlCond {
	switch {
	case !c.nullable && asc:
		// A row comparison: an index condition, not a filter.
		return cond("("+c.expr+", room.id) > (?, ?)", v, id)
	case !c.nullable:
		return cond("("+c.expr+", room.id) < (?, ?)", v, id)
	case v == nil && asc: // only NULLs come after a NULL
		return cond(c.expr+" IS NULL AND room.id > ?", id)
	case v == nil: // every value comes after a NULL going down
		return cond("("+c.expr+" IS NOT NULL OR room.id < ?)", id)
	case asc:
		return cond("("+c.expr+" > ? OR "+c.expr+" IS NULL OR ("+c.expr+" = ? AND room.id > ?))", v, v, id)
	default:
		return cond("("+c.expr+" < ? OR ("+c.expr+" = ? AND room.id < ?))", v, v, id)
	}
}

// segments are after's rows as one or two ranges of the column's index,
// in order, each a condition the index can seek to (not a filter over
// everything before the cursor): after a value going up come the greater
// values, then the NULLs; after a NULL going down come the NULLs with a
// lower id, then every value.
func (c sortColumn) segments(asc bool, v any, id string) []sqlCond {
	switch {
	case !c.nullable:
		return []sqlCond{c.after(asc, v, id)}
	case v != nil && !asc:
		// A NULL compares as unknown, so the row comparison leaves the
		// NULLs out, which going down come before any value.
		return []sqlCond{cond("("+c.expr+", room.id) < (?, ?)", v, id)}
	case v != nil:
		return []sqlCond{cond("("+c.expr+", room.id) > (?, ?)", v, id), cond(c.expr + " IS NULL")}
	case asc:
		return []sqlCond{cond(c.expr+" IS NULL AND room.id > ?", id)}
	}
	return []sqlCond{cond(c.expr+" IS NULL AND room.id < ?", id), cond(c.expr + " IS NOT NULL")}
}

func (c sortColumn) orderBy(asc bool) string {
	switch {
	case asc && c.nullable:
		return c.expr + " ASC NULLS LAST, room.id ASC"
	case asc:
		return c.expr + " ASC, room.id ASC"
	case c.nullable:
		return c.expr + " DESC NULLS FIRST, room.id DESC"
	}
	return c.expr + " DESC, room.id DESC"
}

// cursorPayload is what a cursor holds: the list and order it belongs to
// (a cursor of another is refused, not misread) and the position, the sort
// value and the id of the edge's room. V is the format's version.
type cursorPayload struct {
	V     int     `json:"v"`
	List  string  `json:"l"`
	User  string  `json:"u"`
	Order string  `json:"o"`
	Value *string `json:"s,omitempty"`
	ID    string  `json:"i"`
}

const cursorVersion = 1

// position is a decoded cursor: the sort value as a query argument (nil
// for NULL) and the room id.
type position struct {
	value any
	id    string
}

func orderKey(o RoomOrder) string { return string(o.Field) + " " + string(o.Direction) }

func (s *Service) encodeCursor(list roomList, order RoomOrder, value *string, id string) string {
	b, _ := json.Marshal(cursorPayload{V: cursorVersion, List: list.kind(), User: list.userID, Order: orderKey(order), Value: value, ID: id})
	return s.tokens.SealCursor(b)
}

// decodeCursor opens a cursor of this list in this order, or says why not
// as a BAD_USER_INPUT on field.
func (s *Service) decodeCursor(field, cursor string, list roomList, order RoomOrder, col sortColumn) (position, error) {
	bad := apperr.Invalid(field, field+" must be a cursor of this list, in this order")
	b, err := s.tokens.OpenCursor(cursor)
	if err != nil {
		return position{}, bad
	}
	var p cursorPayload
	if json.Unmarshal(b, &p) != nil || p.V != cursorVersion || p.List != list.kind() || p.User != list.userID ||
		p.Order != orderKey(order) || !isKey(p.ID) {
		return position{}, bad
	}
	if p.Value == nil {
		if !col.nullable {
			return position{}, bad
		}
		return position{id: p.ID}, nil
	}
	switch col.kind {
	case 't':
		t, err := time.Parse(time.RFC3339Nano, *p.Value)
		if err != nil {
			return position{}, bad
		}
		return position{value: t, id: p.ID}, nil
	case 'i':
		n, err := strconv.ParseInt(*p.Value, 10, 64)
		if err != nil {
			return position{}, bad
		}
		return position{value: n, id: p.ID}, nil
	}
	return position{value: *p.Value, id: p.ID}, nil
}

// connectionRow is a room and its sort value, as the page's statement
// reads them (the stored statistics are not in the model).
type connectionRow struct {
	models.Room `bun:",extend"`
	SortTime    *time.Time `bun:"sort_time,scanonly"`
	SortText    *string    `bun:"sort_text,scanonly"`
	SortInt     *int64     `bun:"sort_int,scanonly"`
}

func (r *connectionRow) sortValue() *string {
	switch {
	case r.SortTime != nil:
		v := r.SortTime.UTC().Format(time.RFC3339Nano)
		return &v
	case r.SortText != nil:
		return r.SortText
	case r.SortInt != nil:
		v := strconv.FormatInt(*r.SortInt, 10)
		return &v
	}
	return nil
}

// checkConnectionArgs validates the page's size, the order and the
// filter, and returns the order with its defaults.
func checkConnectionArgs(list roomList, args ConnectionArgs) (RoomOrder, error) {
	var problems []*apperr.Error
	if args.First != nil && args.Last != nil {
		problems = append(problems, apperr.Invalid("last", "pass first or last, not both"))
	}
	for _, a := range []struct {
		field string
		n     *int
	}{{"first", args.First}, {"last", args.Last}} {
		if a.n != nil && (*a.n < 1 || *a.n > MaxPageSize) {
			problems = append(problems, apperr.Invalid(a.field, fmt.Sprintf("%s must be between 1 and %d", a.field, MaxPageSize)))
		}
	}
	order := RoomOrder{Field: OrderCreatedAt, Direction: OrderDesc}
	if list.attended {
		order.Field = orderPresence
	}
	if args.OrderBy != nil {
		order = *args.OrderBy
		switch order.Field {
		case OrderCreatedAt, OrderStartedAt, OrderEndedAt, OrderName, OrderLastActivity, OrderPeakParticipants:
		default:
			problems = append(problems, apperr.Invalid("orderBy.field", "orderBy.field must be one of CREATED_AT, STARTED_AT, ENDED_AT, NAME, LAST_ACTIVITY, PEAK_PARTICIPANTS"))
		}
		if order.Direction != OrderAsc && order.Direction != OrderDesc {
			problems = append(problems, apperr.Invalid("orderBy.direction", "orderBy.direction must be ASC or DESC"))
		}
	}
	if f := args.Filter; f != nil {
		if f.Status != nil && !f.Status.valid() {
			problems = append(problems, apperr.Invalid("filter.status", "filter.status must be one of ALL, ACTIVE, ENDED"))
		}
		if f.Search != nil && len([]rune(*f.Search)) > MaxRoomName {
			problems = append(problems, apperr.Invalid("filter.search", fmt.Sprintf("filter.search must be at most %d characters", MaxRoomName)))
		}
	}
	return order, apperr.Invalids(problems...)
}

// roomSet is the list's rooms that pass the filter: a join (sql "" for
// none) and conditions, read by both paths.
type roomSet struct {
	join  sqlCond
	conds []sqlCond
}

// apply narrows a Bun query over rooms (aliased room) to the set.
func (rs roomSet) apply(q *bun.SelectQuery, more ...sqlCond) *bun.SelectQuery {
	if rs.join.sql != "" {
		q = q.Join(rs.join.sql, rs.join.args...)
	}
	for _, c := range rs.conds {
		q = q.Where(c.sql, c.args...)
	}
	for _, c := range more {
		q = q.Where(c.sql, c.args...)
	}
	return q
}

// roomsOf is the list's rooms that pass the filter.
func (s *Service) roomsOf(list roomList, f *RoomFilter) roomSet {
	var rs roomSet
	if list.attended {
		// One row per room the user joined, with their latest join (the
		// (user_id, room_id, joined_at) index serves it); rooms they host
		// are their own list's.
		rs.join = cond("JOIN (SELECT p.room_id, MAX(p.joined_at) AS last_joined_at FROM participants AS p WHERE p.user_id = ? GROUP BY p.room_id) AS lp ON lp.room_id = room.id", list.userID)
		rs.conds = append(rs.conds, cond("room.host_id <> ?", list.userID))
	} else {
		rs.conds = append(rs.conds, cond("room.host_id = ?", list.userID))
	}
	if f == nil {
		return rs
	}
	if f.Status != nil {
		switch *f.Status {
		case RoomStatusActive:
			rs.conds = append(rs.conds, cond("room.is_active = ?", true))
		case RoomStatusEnded:
			rs.conds = append(rs.conds, cond("room.is_active = ?", false))
		}
	}
	if f.CreatedAfter != nil {
		rs.conds = append(rs.conds, cond("room.created_at > ?", f.CreatedAfter.UTC()))
	}
	if f.CreatedBefore != nil {
		rs.conds = append(rs.conds, cond("room.created_at < ?", f.CreatedBefore.UTC()))
	}
	if f.Search != nil && *f.Search != "" {
		// A position, not a LIKE pattern: % and _ are plain characters,
		// with nothing to escape. lower() folds every letter on
		// PostgreSQL, ASCII letters only on SQLite (its built-in lower).
		// The cast settles lower's overload for a parameter.
		if s.postgres {
			rs.conds = append(rs.conds, cond("strpos(lower(room.name), lower(CAST(? AS text))) > 0", *f.Search))
		} else {
			rs.conds = append(rs.conds, cond("instr(lower(room.name), lower(?)) > 0", *f.Search))
		}
	}
	if f.HasActiveParticipants != nil {
		if *f.HasActiveParticipants {
			rs.conds = append(rs.conds, cond("room.active_participants > 0"))
		} else {
			rs.conds = append(rs.conds, cond("room.active_participants = 0"))
		}
	}
	return rs
}

// connectionPlan is a validated page of a connection: what its statements
// read, whichever path runs them.
type connectionPlan struct {
	list    roomList
	args    ConnectionArgs
	order   RoomOrder
	col     sortColumn
	set     roomSet
	asc     bool
	forward bool
	n       int
	// readAsc is the order the page is read in: a last page is read from
	// its end, in the opposite order, from the cursor it leads with (lead)
	// up to the other one (trail), if any.
	readAsc       bool
	after, before *position
	lead, trail   *position
}

// segments are the page's ranges, each one statement, read in turn until
// the page is full: one, unless the page crosses from the values into the
// NULLs (or back).
func (p *connectionPlan) segments() []sqlCond {
	if p.lead == nil {
		return []sqlCond{{}}
	}
	return p.col.segments(p.readAsc, p.lead.value, p.lead.id)
}

// pageConds are segment's conditions beyond the set's.
func (p *connectionPlan) pageConds(segment sqlCond) []sqlCond {
	var out []sqlCond
	if segment.sql != "" {
		out = append(out, segment)
	}
	if p.trail != nil {
		out = append(out, p.col.after(!p.readAsc, p.trail.value, p.trail.id)) // strictly before it
	}
	return out
}

// beyond is the cursor the page started from, when it has one, and the
// direction to look in for rows at or before it (rows then on the other
// side of the page): hasPreviousPage going forwards, hasNextPage back.
func (p *connectionPlan) beyond() (sqlCond, bool) {
	from, asc := p.after, !p.asc
	if !p.forward {
		from, asc = p.before, p.asc
	}
	if from == nil {
		return sqlCond{}, false
	}
	a := p.col.after(asc, from.value, from.id)
	return cond("("+a.sql+") OR room.id = ?", append(slices.Clone(a.args), from.id)...), true
}

func (p *connectionPlan) sortAlias() string {
	return "sort_" + map[byte]string{'t': "time", 's': "text", 'i': "int"}[p.col.kind]
}

// planConnection checks the caller and the arguments and decodes the
// cursors.
func (s *Service) planConnection(ctx context.Context, list roomList, args ConnectionArgs) (*connectionPlan, error) {
	if !auth.IsSelf(ctx, list.userID) {
		return nil, apperr.ForbiddenReason(apperr.NotSelf, "only the user themself may list their rooms")
	}
	order, err := checkConnectionArgs(list, args)
	if err != nil {
		return nil, err
	}
	p := &connectionPlan{list: list, args: args, order: order, asc: order.Direction == OrderAsc, forward: args.Last == nil}
	p.col, _ = s.sortColumn(order.Field)
	var problems []*apperr.Error
	for _, c := range []struct {
		field  string
		cursor *string
		pos    **position
	}{{"after", args.After, &p.after}, {"before", args.Before, &p.before}} {
		if c.cursor == nil {
			continue
		}
		pos, err := s.decodeCursor(c.field, *c.cursor, list, order, p.col)
		if err != nil {
			problems = append(problems, err.(*apperr.Error))
			continue
		}
		*c.pos = &pos
	}
	if err := apperr.Invalids(problems...); err != nil {
		return nil, err
	}
	p.n = DefaultConnectionPage
	if args.First != nil {
		p.n = *args.First
	} else if args.Last != nil {
		p.n = *args.Last
	}
	p.readAsc = p.asc == p.forward
	p.lead, p.trail = p.after, p.before
	if !p.forward {
		p.lead, p.trail = p.before, p.after
	}
	p.set = s.roomsOf(list, args.Filter)
	return p, nil
}

func (s *Service) roomConnection(ctx context.Context, list roomList, args ConnectionArgs) (*RoomConnection, error) {
	p, err := s.planConnection(ctx, list, args)
	if err != nil {
		return nil, err
	}
	var page connectionPage
	if s.postgres {
		page, err = s.connectionPagePG(ctx, p, nil)
	} else {
		page, err = s.connectionPageBun(ctx, p)
	}
	if err != nil {
		return nil, err
	}
	return s.finishConnection(ctx, p, page)
}

// connectionPage is what a page's statements read: its rows (up to n+1,
// in reading order), whether anything lies beyond its starting cursor,
// and the total count when it was read with them.
type connectionPage struct {
	rows    []*connectionRow
	beyond  bool
	count   int
	counted bool
}

// connectionPageBun reads the page through Bun (SQLite's path, and the
// one the native path is held to).
func (s *Service) connectionPageBun(ctx context.Context, p *connectionPlan) (connectionPage, error) {
	var page connectionPage
	for _, segment := range p.segments() {
		var part []*connectionRow
		q := s.db.NewSelect().Model(&part).ColumnExpr(columnsOf("room", roomColumns)).
			ColumnExpr(p.col.expr + " AS " + p.sortAlias())
		if p.args.WithSettings {
			q = s.addSettings(q)
		}
		q = p.set.apply(q, p.pageConds(segment)...)
		if err := q.OrderExpr(p.col.orderBy(p.readAsc)).Limit(int64(p.n + 1 - len(page.rows))).Scan(ctx); err != nil {
			return page, fmt.Errorf("load rooms: %w", err)
		}
		if page.rows = append(page.rows, part...); len(page.rows) > p.n {
			break
		}
	}
	if b, ok := p.beyond(); ok {
		var err error
		if page.beyond, err = p.set.apply(s.db.NewSelect().Model((*models.Room)(nil)), b).Exists(ctx); err != nil {
			return page, fmt.Errorf("load rooms: %w", err)
		}
	}
	return page, nil
}

// countBun is totalCount's statement through Bun.
func (s *Service) countBun(ctx context.Context, set roomSet) (int, error) {
	n, err := set.apply(s.db.NewSelect().Model((*models.Room)(nil))).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count rooms: %w", err)
	}
	return int(n), nil
}

// finishConnection makes the connection of a page's rows.
func (s *Service) finishConnection(ctx context.Context, p *connectionPlan, page connectionPage) (*RoomConnection, error) {
	rows := page.rows
	more := len(rows) > p.n
	rows = rows[:min(len(rows), p.n)]
	if !p.forward {
		slices.Reverse(rows)
	}
	list := p.list
	src := &cursorSource{s: s, list: list, order: p.order}
	conn := &RoomConnection{Edges: make([]*RoomEdge, len(rows))}
	edges := make([]RoomEdge, len(rows)) // one allocation for the page
	for i, r := range rows {
		edges[i] = RoomEdge{Node: &r.Room, src: src, row: r}
		conn.Edges[i] = &edges[i]
	}
	if p.forward {
		conn.PageInfo.HasNextPage = more
		conn.PageInfo.HasPreviousPage = page.beyond
	} else {
		conn.PageInfo.HasPreviousPage = more
		conn.PageInfo.HasNextPage = page.beyond
	}
	if len(conn.Edges) > 0 {
		first, last := conn.Edges[0].Cursor(), conn.Edges[len(conn.Edges)-1].Cursor()
		conn.PageInfo.StartCursor, conn.PageInfo.EndCursor = &first, &last
	}
	if page.counted {
		n := page.count
		conn.count = func(context.Context) (int, error) { return n, nil }
	} else {
		set := p.set
		conn.count = func(ctx context.Context) (int, error) { return s.countBun(ctx, set) }
	}
	if list.attended && len(rows) > 0 {
		if err := s.attachPresences(ctx, list.userID, conn.Edges); err != nil {
			return nil, err
		}
	}
	return conn, nil
}

// attachPresences gives each edge the user's latest presence in its room
// (latest join, ties by id), in one statement for the page.
func (s *Service) attachPresences(ctx context.Context, userID string, edges []*RoomEdge) error {
	ids := make([]string, len(edges))
	for i, e := range edges {
		ids[i] = e.Node.ID
	}
	var rows []*models.Participant
	if err := s.db.NewSelect().Model(&rows).Where("user_id = ?", userID).Where("room_id IN (?)", bun.In(ids)).
		OrderExpr("joined_at ASC, id ASC").Scan(ctx); err != nil {
		return fmt.Errorf("load presences: %w", err)
	}
	latest := make(map[string]*models.Participant, len(edges))
	for _, p := range rows {
		latest[p.RoomID] = p // the last in join order wins
	}
	now := s.now()
	for _, e := range edges {
		p := latest[e.Node.ID]
		if p == nil {
			continue // cannot happen: the page lists rooms the user joined
		}
		until := now
		if p.LeftAt != nil {
			until = *p.LeftAt
		} else if e.Node.EndedAt != nil {
			until = *e.Node.EndedAt
		}
		pr := &Presence{JoinedAt: p.JoinedAt, LeftAt: p.LeftAt}
		if until.After(p.JoinedAt) {
			pr.Seconds = int(until.Sub(p.JoinedAt) / time.Second)
		}
		e.MyPresence = pr
	}
	return nil
}

// ViewerRoomsConnection is Viewer and then RoomsConnection of the viewer's
// rooms. On PostgreSQL, when the viewer is still to be loaded and the
// arguments are valid, the viewer's lookup joins the page's round trip
// (with its count and its check beyond the cursor); otherwise (and on
// SQLite) it is the two calls, which answer the same, errors included:
// the viewer's first, so a token of a deleted user is refused whatever
// its rooms.
func (s *Service) ViewerRoomsConnection(ctx context.Context, args ConnectionArgs) (*models.User, *RoomConnection, error) {
	p := auth.FromContext(ctx)
	var plan *connectionPlan
	if s.postgres && p != nil && p.Err == nil && p.UserID != "" {
		// Invalid arguments fail below, after the viewer, as the two calls do.
		plan, _ = s.planConnection(ctx, roomList{userID: p.UserID}, args)
	}
	if plan == nil {
		viewer, err := s.Viewer(ctx)
		if err != nil {
			return nil, nil, err
		}
		conn, err := s.RoomsConnection(ctx, viewer.ID, args)
		return viewer, conn, err
	}
	var page connectionPage
	var pageErr error
	batched := false
	viewer, err := p.User(func(id string) (*models.User, error) {
		batched = true
		var ur userReader
		first := nativeStatement{sql: sqlUserByID, args: []any{id}, types: userTypes, d: &ur.d, row: ur.row,
			reset: func() { ur = userReader{} }}
		page, pageErr = s.connectionPagePG(ctx, plan, &first)
		if pageErr != nil {
			// The batch's one outcome is the viewer's too.
			return viewerLookup(nil, pageErr)
		}
		return viewerLookup(ur.result(nil))
	})
	if err != nil {
		return nil, nil, err
	}
	if !batched { // the viewer was loaded already: its rooms alone
		conn, err := s.RoomsConnection(ctx, viewer.ID, args)
		return viewer, conn, err
	}
	conn, err := s.finishConnection(ctx, plan, page)
	return viewer, conn, err
}
