package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/neuronmeet/api/bench/internal/ref"
)

// The statements, prepared on every connection. The viewer statement makes
// a token whose user no longer exists a 401, as the product answers it; it
// rides in the same round trip, so it costs PostgreSQL an index probe and
// nothing else.
//
// Settings are a LATERAL subquery the planner cannot flatten (LIMIT 1): a
// plain join became a hash join over all the settings for a 1,000-room
// host, the trap the product avoids the same way. Participants are fetched
// by the array of the host's room ids, which PostgreSQL probes in the
// participants index and sorts by room id (the product's order);
// bench/variants.sh measured it cheaper in PostgreSQL than asking for them
// in the rooms' own order (sqlParticipants, variant roomorder), which
// costs a sort on the rooms' keys. A plain join there became a hash join
// over a parallel scan of all 500,000 participant rows for the 1,000-room
// host (~100 ms instead of ~10 ms); OFFSET 0 keeps it from being flattened.
const (
	sqlViewer = `SELECT 1 FROM users WHERE id = $1`

	sqlRooms = `SELECT r.id, r.code, r.name, r.host_id, r.is_active, r.is_locked,
       r.started_at, r.ended_at, r.created_at, r.updated_at,
       s.allow_chat, s.allow_screen_share, s.allow_guest_access, s.waiting_room,
       s.mute_participants_on_join, s.max_participants
FROM rooms r
LEFT JOIN LATERAL (
  SELECT allow_chat, allow_screen_share, allow_guest_access, waiting_room,
         mute_participants_on_join, max_participants
  FROM room_settings WHERE room_id = r.id LIMIT 1) s ON true
WHERE r.host_id = $1
ORDER BY r.created_at DESC, r.id DESC`

	sqlParticipants = `SELECT p.room_id, p.id, p.is_active, p.is_host, p.joined_at, p.left_at
FROM rooms r
CROSS JOIN LATERAL (
  SELECT room_id, id, is_active, is_host, joined_at, left_at
  FROM participants WHERE room_id = r.id ORDER BY joined_at, id OFFSET 0) p
WHERE r.host_id = $1
ORDER BY r.created_at DESC, r.id DESC, p.joined_at, p.id`

	// sqlParticipantsByRoom is the product's order (room id, then join
	// order); the encoder groups the rows by room.
	sqlParticipantsByRoom = `SELECT p.room_id, p.id, p.is_active, p.is_host, p.joined_at, p.left_at
FROM participants p
WHERE p.room_id = ANY (ARRAY(SELECT id FROM rooms WHERE host_id = $1))
ORDER BY p.room_id, p.joined_at, p.id`

	// sqlJoined is rooms, settings and participants as one result: a
	// room's columns repeat on each of its participants' rows (one row
	// with NULL participant columns for a room without any).
	sqlJoined = `SELECT r.id, r.code, r.name, r.host_id, r.is_active, r.is_locked,
       r.started_at, r.ended_at, r.created_at, r.updated_at,
       s.allow_chat, s.allow_screen_share, s.allow_guest_access, s.waiting_room,
       s.mute_participants_on_join, s.max_participants,
       p.id, p.is_active, p.is_host, p.joined_at, p.left_at
FROM rooms r
LEFT JOIN LATERAL (
  SELECT allow_chat, allow_screen_share, allow_guest_access, waiting_room,
         mute_participants_on_join, max_participants
  FROM room_settings WHERE room_id = r.id LIMIT 1) s ON true
LEFT JOIN LATERAL (
  SELECT id, is_active, is_host, joined_at, left_at
  FROM participants WHERE room_id = r.id ORDER BY joined_at, id OFFSET 0) p ON true
WHERE r.host_id = $1
ORDER BY r.created_at DESC, r.id DESC, p.joined_at, p.id`
)

// statement names and the column types the decoders assume, checked on
// every new connection so a schema change fails loudly, not as garbage.
var statements = []struct {
	name, sql string
	types     []uint32
}{
	{"viewer", sqlViewer, []uint32{pgtype.Int4OID}},
	{"rooms", sqlRooms, roomTypes},
	{"participants", sqlParticipants, append([]uint32{pgtype.VarcharOID}, participantTypes...)},
	{"participants-by-room", sqlParticipantsByRoom, append([]uint32{pgtype.VarcharOID}, participantTypes...)},
	{"joined", sqlJoined, append(append([]uint32{}, roomTypes...), participantTypes...)},
	{"version", sqlVersion, versionTypes},
}

var (
	roomTypes = []uint32{
		pgtype.VarcharOID, pgtype.VarcharOID, pgtype.VarcharOID, pgtype.VarcharOID, pgtype.BoolOID, pgtype.BoolOID,
		pgtype.TimestamptzOID, pgtype.TimestamptzOID, pgtype.TimestamptzOID, pgtype.TimestamptzOID,
		pgtype.BoolOID, pgtype.BoolOID, pgtype.BoolOID, pgtype.BoolOID, pgtype.BoolOID, pgtype.Int4OID,
	}
	participantTypes = []uint32{pgtype.VarcharOID, pgtype.BoolOID, pgtype.BoolOID, pgtype.TimestamptzOID, pgtype.TimestamptzOID}
)

// binaryResults asks for every result column in binary format.
var binaryResults = []int16{1}

// prepare readies the statements on a new connection (pgxpool's AfterConnect).
func prepare(ctx context.Context, c *pgx.Conn) error {
	for _, s := range statements {
		sd, err := c.Prepare(ctx, s.name, s.sql)
		if err != nil {
			return fmt.Errorf("prepare %s: %w", s.name, err)
		}
		if len(sd.Fields) != len(s.types) {
			return fmt.Errorf("prepare %s: %d columns, want %d", s.name, len(sd.Fields), len(s.types))
		}
		for i, f := range sd.Fields {
			if f.DataTypeOID != s.types[i] {
				return fmt.Errorf("prepare %s: column %s has type %d, want %d", s.name, f.Name, f.DataTypeOID, s.types[i])
			}
		}
	}
	return nil
}

// Variants of the handler, measured by bench/variants.sh (see bench/README.md).
const (
	// viewer, rooms, participants in room-id order: three statements in one
	// round trip, participants grouped in Go. The fastest; served at
	// /users/me/rooms.
	variantPipeline  = "pipeline"
	variantRoomOrder = "roomorder" // as pipeline, participants in the rooms' order, merged in one pass
	variantJoined    = "joined"    // viewer and one joined statement, one round trip
	variantNoViewer  = "noviewer"  // as pipeline without the viewer check
)

var variants = []string{variantPipeline, variantRoomOrder, variantJoined, variantNoViewer}

type handler struct {
	pool    *pgxpool.Pool
	auth    *ref.Verifier
	variant string
}

// room is one room of the current answer: its id and its JSON up to and
// including `"participants":[`, as offsets into scratch.arena.
type room struct{ id, idEnd, pre, preEnd int }

// scratch is one request's reusable memory.
type scratch struct {
	param  [][]byte
	out    []byte
	arena  []byte
	rooms  []room
	lastID []byte
	// groupParticipants: rooms' indices sorted by id, and each room's
	// encoded participants as a span of parts.
	byID  []int
	parts []byte
	span  [][2]int
	dates dates
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{param: make([][]byte, 1), out: make([]byte, 0, 64<<10), arena: make([]byte, 0, 32<<10)}
}}

// putScratch keeps buffers up to 8 MiB (a 1,000-room answer is ~1.3 MB).
func putScratch(s *scratch) {
	if cap(s.out) <= 8<<20 && cap(s.arena) <= 8<<20 {
		scratchPool.Put(s)
	}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, h.variant)
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, variant string) {
	uid := h.auth.UserID(r)
	if uid == "" {
		ref.WriteUnauthorized(w)
		return
	}
	ok, s, err := h.answer(r.Context(), uid, variant)
	if s != nil {
		defer putScratch(s)
	}
	if err != nil {
		http.Error(w, `{"statusCode":500,"message":`+strconv.Quote(err.Error())+`}`, http.StatusInternalServerError)
		return
	}
	if !ok {
		ref.WriteUnauthorized(w)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json; charset=utf-8")
	hdr.Set("Content-Length", strconv.Itoa(len(s.out)))
	_, _ = w.Write(s.out)
}

// answer runs the variant's statements in one round trip and encodes the
// answer into s.out; ok is false when the viewer does not exist. The
// scratch is taken once a connection is, so no more buffers are live than
// the pool has connections, however many requests wait.
func (h *handler) answer(ctx context.Context, uid, variant string) (ok bool, s *scratch, err error) {
	c, err := h.pool.Acquire(ctx)
	if err != nil {
		return false, nil, err
	}
	defer c.Release()
	s = scratchPool.Get().(*scratch)
	s.param[0] = append(s.param[0][:0], uid...)
	ok, err = h.run(ctx, c.Conn(), s, variant)
	return ok, s, err
}

func (h *handler) run(ctx context.Context, conn *pgx.Conn, s *scratch, variant string) (ok bool, err error) {
	var batch pgconn.Batch
	queue := func(name string) error {
		// Already prepared on this connection: a map look-up, no round trip.
		sd, err := conn.Prepare(ctx, name, statementSQL(name))
		if err != nil {
			return err
		}
		batch.ExecStatement(sd, s.param, nil, binaryResults)
		return nil
	}
	names := [3]string{"viewer", "rooms", "participants-by-room"}
	n := 3
	switch variant {
	case variantRoomOrder:
		names[2] = "participants"
	case variantJoined:
		names[1], n = "joined", 2
	case variantNoViewer:
		names[0], names[1], n = "rooms", "participants-by-room", 2
	}
	for _, name := range names[:n] {
		if err := queue(name); err != nil {
			return false, err
		}
	}
	mrr := conn.PgConn().ExecBatch(ctx, &batch)
	defer func() {
		if cerr := mrr.Close(); err == nil {
			err = cerr
		}
	}()
	next := func() (*pgconn.ResultReader, error) {
		if !mrr.NextResult() {
			if err := mrr.Close(); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("missing result")
		}
		return mrr.ResultReader(), nil
	}

	if variant != variantNoViewer {
		rr, err := next()
		if err != nil {
			return false, err
		}
		found := rr.NextRow()
		if _, err := rr.Close(); err != nil {
			return false, err
		}
		if !found {
			return false, nil
		}
	}
	s.out = append(s.out[:0], '[')
	if variant == variantJoined {
		rr, err := next()
		if err != nil {
			return false, err
		}
		s.encodeJoined(rr)
		if _, err := rr.Close(); err != nil {
			return false, err
		}
	} else {
		rr, err := next()
		if err != nil {
			return false, err
		}
		s.readRooms(rr)
		if _, err := rr.Close(); err != nil {
			return false, err
		}
		if rr, err = next(); err != nil {
			return false, err
		}
		if variant == variantRoomOrder {
			s.mergeParticipants(rr)
		} else {
			s.groupParticipants(rr)
		}
		if _, err := rr.Close(); err != nil {
			return false, err
		}
	}
	s.out = append(s.out, ']')
	return true, nil
}

func statementSQL(name string) string {
	for _, s := range statements {
		if s.name == name {
			return s.sql
		}
	}
	panic("unknown statement " + name)
}

// readRooms encodes every room's JSON up to its participants into the arena.
func (s *scratch) readRooms(rr *pgconn.ResultReader) {
	s.arena, s.rooms = s.arena[:0], s.rooms[:0]
	for rr.NextRow() {
		v := rr.Values()
		var rm room
		rm.id = len(s.arena)
		s.arena = append(s.arena, v[0]...)
		rm.idEnd, rm.pre = len(s.arena), len(s.arena)
		s.arena = appendRoom(&s.dates, s.arena, v)
		rm.preEnd = len(s.arena)
		s.rooms = append(s.rooms, rm)
	}
}

// mergeParticipants (variant roomorder) writes the rooms in order, each followed by its
// participants, which arrive in the same room order. A participant whose
// room is not in the list (a room created between the two statements'
// snapshots) is skipped.
func (s *scratch) mergeParticipants(rr *pgconn.ResultReader) {
	cur, first := -1, true
	open := func(k int) {
		if cur >= 0 {
			s.out = append(s.out, "]}"...)
		}
		if k > 0 {
			s.out = append(s.out, ',')
		}
		rm := s.rooms[k]
		s.out = append(s.out, s.arena[rm.pre:rm.preEnd]...)
		cur, first = k, true
	}
	for rr.NextRow() {
		v := rr.Values()
		j := max(cur, 0)
		for j < len(s.rooms) && !bytes.Equal(s.arena[s.rooms[j].id:s.rooms[j].idEnd], v[0]) {
			j++
		}
		if j == len(s.rooms) {
			continue
		}
		for cur < j {
			open(cur + 1)
		}
		if !first {
			s.out = append(s.out, ',')
		}
		s.out, first = appendParticipant(&s.dates, s.out, v[1:]), false
	}
	for cur < len(s.rooms)-1 {
		open(cur + 1)
	}
	if cur >= 0 {
		s.out = append(s.out, "]}"...)
	}
}

// groupParticipants (the served variant) encodes participants arriving in
// room-id order into per-room spans (a binary search over the rooms sorted
// by id finds each group's room), then writes the rooms in their own order.
func (s *scratch) groupParticipants(rr *pgconn.ResultReader) {
	id := func(k int) []byte { return s.arena[s.rooms[k].id:s.rooms[k].idEnd] }
	s.byID = s.byID[:0]
	for k := range s.rooms {
		s.byID = append(s.byID, k)
	}
	slices.SortFunc(s.byID, func(a, b int) int { return bytes.Compare(id(a), id(b)) })
	s.span = append(s.span[:0], make([][2]int, len(s.rooms))...)
	s.parts = s.parts[:0]
	cur := -1
	for rr.NextRow() {
		v := rr.Values()
		if cur < 0 || !bytes.Equal(id(cur), v[0]) {
			i, found := slices.BinarySearchFunc(s.byID, v[0], func(k int, t []byte) int { return bytes.Compare(id(k), t) })
			if !found {
				cur = -1
				continue // a room created between the statements' snapshots
			}
			cur = s.byID[i]
			s.span[cur][0] = len(s.parts)
		} else {
			s.parts = append(s.parts, ',')
		}
		s.parts = appendParticipant(&s.dates, s.parts, v[1:])
		s.span[cur][1] = len(s.parts)
	}
	for k, rm := range s.rooms {
		if k > 0 {
			s.out = append(s.out, ',')
		}
		s.out = append(s.out, s.arena[rm.pre:rm.preEnd]...)
		s.out = append(s.out, s.parts[s.span[k][0]:s.span[k][1]]...)
		s.out = append(s.out, "]}"...)
	}
}

// encodeJoined streams the joined result: a new room id opens a room.
func (s *scratch) encodeJoined(rr *pgconn.ResultReader) {
	rooms, first := 0, true
	for rr.NextRow() {
		v := rr.Values()
		if rooms == 0 || !bytes.Equal(v[0], s.lastID) {
			if rooms > 0 {
				s.out = append(s.out, "]},"...)
			}
			s.lastID = append(s.lastID[:0], v[0]...)
			s.out, first = appendRoom(&s.dates, s.out, v), true
			rooms++
		}
		if v[16] == nil { // a room without participants
			continue
		}
		if !first {
			s.out = append(s.out, ',')
		}
		s.out, first = appendParticipant(&s.dates, s.out, v[16:]), false
	}
	if rooms > 0 {
		s.out = append(s.out, "]}"...)
	}
}

// appendRoom writes a room's keys in the contract's order, up to and
// including `"participants":[`, from the rooms statement's 16 columns.
func appendRoom(d *dates, b []byte, v [][]byte) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, v[0])
	b = append(b, `,"code":`...)
	b = appendString(b, v[1])
	b = append(b, `,"name":`...)
	b = appendString(b, v[2])
	b = append(b, `,"hostId":`...)
	b = appendString(b, v[3])
	b = append(b, `,"isActive":`...)
	b = appendBool(b, v[4])
	b = append(b, `,"isLocked":`...)
	b = appendBool(b, v[5])
	b = append(b, `,"startedAt":`...)
	b = appendNullableTime(d, b, v[6])
	b = append(b, `,"endedAt":`...)
	b = appendNullableTime(d, b, v[7])
	b = append(b, `,"createdAt":`...)
	b = d.appendTime(b, v[8])
	b = append(b, `,"updatedAt":`...)
	b = d.appendTime(b, v[9])
	if v[10] == nil { // no settings row
		return append(b, `,"settings":null,"participants":[`...)
	}
	b = append(b, `,"settings":{"allowChat":`...)
	b = appendBool(b, v[10])
	b = append(b, `,"allowScreenShare":`...)
	b = appendBool(b, v[11])
	b = append(b, `,"allowGuestAccess":`...)
	b = appendBool(b, v[12])
	b = append(b, `,"waitingRoom":`...)
	b = appendBool(b, v[13])
	b = append(b, `,"muteParticipantsOnJoin":`...)
	b = appendBool(b, v[14])
	b = append(b, `,"maxParticipants":`...)
	b = appendInt4(b, v[15])
	return append(b, `},"participants":[`...)
}

// appendParticipant writes one participant from (id, is_active, is_host,
// joined_at, left_at); leftAt is absent, not null, until they leave.
func appendParticipant(d *dates, b []byte, v [][]byte) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, v[0])
	b = append(b, `,"isActive":`...)
	b = appendBool(b, v[1])
	b = append(b, `,"isHost":`...)
	b = appendBool(b, v[2])
	b = append(b, `,"joinedAt":`...)
	b = d.appendTime(b, v[3])
	if v[4] != nil {
		b = append(b, `,"leftAt":`...)
		b = d.appendTime(b, v[4])
	}
	return append(b, '}')
}

func appendNullableTime(d *dates, b []byte, v []byte) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return d.appendTime(b, v)
}
