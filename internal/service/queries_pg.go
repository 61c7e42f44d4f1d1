package service

// The hot read statements on PostgreSQL, run through pgx natively.
//
// Through database/sql and Bun, each participant row cost ~11 allocations
// (driver values boxed in interfaces, database/sql's conversions, Bun's
// reflection, one string and one pointer per nullable column) and Bun
// inlined the arguments into the SQL text, so every host's statement was a
// new one for PostgreSQL to parse and plan. Here the statements have
// parameters (prepared once per connection, see prepare, or behind a
// pooler sent unnamed, see queryUnnamed), the results come in binary, and rows are decoded by hand into one backing
// slice per batch, their strings copied into shared chunks of bytes.
//
// The connection is borrowed from the same database/sql pool Bun uses
// (sql.Conn.Raw), not from a second pgxpool: one pool keeps
// DB_MAX_OPEN_CONNS the one cap on connections to PostgreSQL, and the
// pool's lifetime, idle and health rules apply to every statement alike.
//
// The statements still go through Bun's query hooks (statement counters,
// metrics, tracing): observed runs each as a Bun raw query whose
// connection is hookConn. What each statement returns is the model: the
// column lists below are the Bun tables' fields, in order (held to that by
// TestNativeColumns_MatchModels), and TestNativeQueries_MatchBun runs both
// paths on the same random data.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/neuronmeet/api/models"
)

// The selected columns of each model, in its Bun fields' order (the
// decoders below read them in this order).
var (
	participantColumns = []string{"id", "room_id", "user_id", "guest_name", "is_active", "is_host", "joined_at", "left_at"}
	userColumns        = []string{"id", "email", "password_hash", "name", "display_name", "avatar_url", "created_at", "updated_at"}
	roomColumns        = []string{"id", "code", "name", "host_id", "is_active", "is_locked", "started_at", "ended_at", "created_at", "updated_at"}
	settingsColumnList = []string{"id", "room_id", "allow_chat", "allow_screen_share", "allow_guest_access", "waiting_room",
		"mute_participants_on_join", "max_participants", "allow_participant_video", "allow_participant_audio"}
)

func columnsOf(alias string, cols []string) string {
	return alias + "." + strings.Join(cols, ", "+alias+".")
}

var (
	// Participants by room in the (room_id, joined_at, id) index's order.
	sqlParticipantsByRoomIDs = "SELECT " + columnsOf("p", participantColumns) +
		" FROM participants AS p WHERE p.room_id = ANY($1) ORDER BY p.room_id, p.joined_at ASC, p.id ASC"
	sqlUsersByIDs = "SELECT " + columnsOf("u", userColumns) + " FROM users AS u WHERE u.id = ANY($1)"
	sqlUserByID   = "SELECT " + columnsOf("u", userColumns) + " FROM users AS u WHERE u.id = $1 LIMIT 1"
	// The viewer and their answers version (see ViewerVersion).
	sqlUserAndVersionByID = "SELECT " + columnsOf("u", userColumns) + ", u.answers_version FROM users AS u WHERE u.id = $1 LIMIT 1"
	// The settings join is joinSettings' LATERAL subquery (see there why).
	sqlRoomsSelect       = "SELECT " + columnsOf("room", roomColumns)
	sqlRoomsWithSettings = ", " + columnsOf("joined_settings", settingsColumnList) +
		" FROM rooms AS room LEFT JOIN LATERAL (SELECT * FROM room_settings AS rs WHERE rs.room_id = room.id LIMIT 1) AS joined_settings ON TRUE"
)

// binaryResults asks for every result column in binary.
var binaryResults = pgx.QueryResultFormats{pgx.BinaryFormatCode}

// observed runs fn as one statement, sqlText, observed by Bun's query
// hooks: a Bun raw query whose connection (hookConn) calls fn. fn gets the
// context the hooks returned (a tracing span's, say).
func (s *Service) observed(ctx context.Context, sqlText string, fn func(ctx context.Context) error) error {
	_, err := s.db.NewRaw(sqlText).Conn(hookConn(fn)).Exec(ctx)
	return err
}

// nativeQuery runs one statement through fn on a pgx connection of the
// pool, observed as a SELECT of sqlText. fn must read its rows to the end
// before returning.
func (s *Service) nativeQuery(ctx context.Context, sqlText string, fn func(ctx context.Context, c *pgx.Conn) error) error {
	return s.observed(ctx, sqlText, func(ctx context.Context) error {
		return s.withPgx(ctx, func(c *pgx.Conn) error { return fn(ctx, c) })
	})
}

// hookConn is the bun.IConn of an observed statement: Bun's hooks run
// around ExecContext, which runs the function.
type hookConn func(ctx context.Context) error

func (f hookConn) ExecContext(ctx context.Context, _ string, _ ...any) (sql.Result, error) {
	if err := f(ctx); err != nil {
		return nil, err
	}
	return driver.RowsAffected(0), nil
}

func (hookConn) QueryContext(context.Context, string, ...any) (*sql.Rows, error) {
	return nil, errors.New("native query: QueryContext is not supported")
}

func (hookConn) QueryRowContext(context.Context, string, ...any) *sql.Row {
	panic("native query: QueryRowContext is not supported")
}

// badConnAttempts matches database/sql's: a statement that failed before
// reaching PostgreSQL on a connection found broken (one idle across a
// database restart) is retried on another, as database/sql would.
const badConnAttempts = 3

// withPgx runs fn on a pgx connection borrowed from the pool.
func (s *Service) withPgx(ctx context.Context, fn func(c *pgx.Conn) error) error {
	var err error
	for range badConnAttempts {
		if err = s.withPgxOnce(ctx, fn); !errors.Is(err, driver.ErrBadConn) {
			break
		}
	}
	var bad badConnError
	if errors.As(err, &bad) {
		err = bad.err
	}
	return err
}

func (s *Service) withPgxOnce(ctx context.Context, fn func(c *pgx.Conn) error) error {
	conn, err := s.db.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("native query: driver connection is %T, not pgx's", dc)
		}
		err := fn(sc.Conn())
		if err != nil && pgconn.SafeToRetry(err) {
			// Nothing was sent: drop the connection (database/sql closes
			// it on ErrBadConn) and let withPgx try another.
			return badConnError{err}
		}
		return err
	})
}

// badConnError is a pgx error that made the connection unusable before the
// statement was sent.
type badConnError struct{ err error }

func (e badConnError) Error() string        { return e.err.Error() }
func (e badConnError) Is(target error) bool { return target == driver.ErrBadConn }
func (e badConnError) Unwrap() error        { return e.err }

// checkColumns fails on a result whose column types the decoders do not
// expect (a schema change), rather than decoding garbage.
func checkColumns(rows rawRows, want []uint32) error {
	fields := rows.FieldDescriptions()
	if len(fields) != len(want) {
		return fmt.Errorf("native query: %d columns, want %d", len(fields), len(want))
	}
	for i, f := range fields {
		got := f.DataTypeOID
		if got == pgtype.TextOID {
			got = pgtype.VarcharOID // the same bytes
		}
		// A string's bytes are the same in text and binary (pgx sets
		// client_encoding to UTF8), and pgx asks for text in batches.
		if got != want[i] || (f.Format != pgx.BinaryFormatCode && got != pgtype.VarcharOID) {
			return fmt.Errorf("native query: column %s has type %d (format %d), want %d in binary", f.Name, f.DataTypeOID, f.Format, want[i])
		}
	}
	return nil
}

const (
	tVarchar = pgtype.VarcharOID
	tBool    = pgtype.BoolOID
	tInt4    = pgtype.Int4OID
	tInt8    = pgtype.Int8OID
	tTime    = pgtype.TimestamptzOID
)

var (
	participantTypes  = []uint32{tVarchar, tVarchar, tVarchar, tVarchar, tBool, tBool, tTime, tTime}
	userTypes         = []uint32{tVarchar, tVarchar, tVarchar, tVarchar, tVarchar, tVarchar, tTime, tTime}
	roomTypes         = []uint32{tVarchar, tVarchar, tVarchar, tVarchar, tBool, tBool, tTime, tTime, tTime, tTime}
	settingsTypes     = []uint32{tVarchar, tVarchar, tBool, tBool, tBool, tBool, tBool, tInt4, tBool, tBool}
	roomSettingsTypes = append(append([]uint32{}, roomTypes...), settingsTypes...)
	userVersionTypes  = append(append([]uint32{}, userTypes...), tInt8)
)

// decoder decodes one batch's binary values. Strings are copied into
// shared chunks of bytes and pointers for nullable columns handed out of
// shared chunks of values: a batch costs a few allocations per chunk
// instead of one or two per value. The chunks live as long as anything
// decoded from them, which is the request's answer. They start small and
// double up to a bound: most batches are one viewer's row, whose strings
// fit in a few hundred bytes, and a first chunk at the bound cost every
// revalidation 8 KB to zero and collect.
type decoder struct {
	bytes []byte
	strs  []string
	times []time.Time
	err   error
}

// nextChunk is an empty chunk to follow full, for at least need elements:
// twice full's size, from first up to most. It never grows full in place:
// what was handed out of full keeps pointing into it.
func nextChunk[T any](full []T, need, first, most int) []T {
	size := min(most, max(first, 2*cap(full)))
	return make([]T, 0, max(size, need))
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// str returns b as a string backed by the decoder's byte chunk. The chunk
// is only ever appended to, so the bytes under a returned string never
// change.
func (d *decoder) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(d.bytes)-len(d.bytes) < len(b) {
		d.bytes = nextChunk(d.bytes, len(b), 512, 8<<10)
	}
	start := len(d.bytes)
	d.bytes = append(d.bytes, b...)
	return unsafe.String(&d.bytes[start], len(b))
}

// strPtr decodes a nullable string column.
func (d *decoder) strPtr(b []byte) *string {
	if b == nil {
		return nil
	}
	if len(d.strs) == cap(d.strs) {
		d.strs = nextChunk(d.strs, 1, 8, 256)
	}
	d.strs = append(d.strs, d.str(b))
	return &d.strs[len(d.strs)-1]
}

func (d *decoder) bool(b []byte) bool {
	if len(b) != 1 {
		d.fail(fmt.Errorf("native query: bool of %d bytes", len(b)))
		return false
	}
	return b[0] != 0
}

func (d *decoder) int4(b []byte) int {
	if len(b) != 4 {
		d.fail(fmt.Errorf("native query: int4 of %d bytes", len(b)))
		return 0
	}
	return int(int32(binary.BigEndian.Uint32(b)))
}

func (d *decoder) int8(b []byte) int64 {
	if len(b) != 8 {
		d.fail(fmt.Errorf("native query: int8 of %d bytes", len(b)))
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

// pgEpochMicros is 2000-01-01T00:00:00Z, PostgreSQL's epoch, in Unix
// microseconds.
const pgEpochMicros = 946_684_800_000_000

// time decodes a timestamptz as pgx does (and so as the database/sql path
// returned it): microseconds since PostgreSQL's epoch, in time.Local.
func (d *decoder) time(b []byte) time.Time {
	if len(b) != 8 {
		d.fail(fmt.Errorf("native query: timestamptz of %d bytes", len(b)))
		return time.Time{}
	}
	us := int64(binary.BigEndian.Uint64(b))
	if us == math.MaxInt64 || us == math.MinInt64 {
		d.fail(errors.New("native query: infinite timestamptz"))
		return time.Time{}
	}
	us += pgEpochMicros
	return time.Unix(us/1_000_000, us%1_000_000*1000)
}

func (d *decoder) timePtr(b []byte) *time.Time {
	if b == nil {
		return nil
	}
	if len(d.times) == cap(d.times) {
		d.times = nextChunk(d.times, 1, 8, 256)
	}
	d.times = append(d.times, d.time(b))
	return &d.times[len(d.times)-1]
}

// notNull fails on a NULL in a NOT NULL column.
func (d *decoder) notNull(v [][]byte, cols ...int) {
	for _, i := range cols {
		if v[i] == nil {
			d.fail(fmt.Errorf("native query: NULL in column %d", i))
		}
	}
}

func (d *decoder) participant(v [][]byte, p *models.Participant, roomID string) {
	d.notNull(v, 0, 1, 4, 5, 6)
	p.ID = d.str(v[0])
	if string(v[1]) == roomID { // rows come grouped by room: share its id
		p.RoomID = roomID
	} else {
		p.RoomID = d.str(v[1])
	}
	p.UserID = d.strPtr(v[2])
	p.GuestName = d.strPtr(v[3])
	p.IsActive = d.bool(v[4])
	p.IsHost = d.bool(v[5])
	p.JoinedAt = d.time(v[6])
	p.LeftAt = d.timePtr(v[7])
}

func (d *decoder) user(v [][]byte, u *models.User) {
	d.notNull(v, 0, 1, 2, 4, 6, 7)
	u.ID = d.str(v[0])
	u.Email = d.str(v[1])
	u.PasswordHash = d.str(v[2])
	u.Name = d.strPtr(v[3])
	u.DisplayName = d.str(v[4])
	u.AvatarURL = d.strPtr(v[5])
	u.CreatedAt = d.time(v[6])
	u.UpdatedAt = d.time(v[7])
}

func (d *decoder) room(v [][]byte, r *models.Room) {
	d.notNull(v, 0, 1, 2, 3, 4, 5, 8, 9)
	r.ID = d.str(v[0])
	r.Code = d.str(v[1])
	r.Name = d.str(v[2])
	r.HostID = d.str(v[3])
	r.IsActive = d.bool(v[4])
	r.IsLocked = d.bool(v[5])
	r.StartedAt = d.timePtr(v[6])
	r.EndedAt = d.timePtr(v[7])
	r.CreatedAt = d.time(v[8])
	r.UpdatedAt = d.time(v[9])
}

// settings decodes the joined settings columns; false when the room has no
// settings row (every column NULL).
func (d *decoder) settings(v [][]byte, s *models.RoomSettings) bool {
	if v[0] == nil {
		return false
	}
	d.notNull(v, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	s.ID = d.str(v[0])
	s.RoomID = d.str(v[1])
	s.AllowChat = d.bool(v[2])
	s.AllowScreenShare = d.bool(v[3])
	s.AllowGuestAccess = d.bool(v[4])
	s.WaitingRoom = d.bool(v[5])
	s.MuteParticipantsOnJoin = d.bool(v[6])
	s.MaxParticipants = d.int4(v[7])
	s.AllowParticipantVideo = d.bool(v[8])
	s.AllowParticipantAudio = d.bool(v[9])
	return true
}

// prepare prepares each statement on c once, named by its text: pgx then
// runs it (alone or in a batch) as that prepared statement whatever the
// pool's exec mode (db.Connect's, for Bun's inlined texts), with binary
// results. A batch takes no per-query mode, so naming is the one way that
// holds for both. The texts are the fixed set above, so this neither
// grows without bound nor competes with other statements for pgx's cache.
// PostgreSQL replans a prepared statement after a schema change by itself;
// one whose result types changed fails, as checkColumns would anyway.
func prepare(ctx context.Context, c *pgx.Conn, sqlTexts ...string) error {
	for _, q := range sqlTexts {
		if _, err := c.Prepare(ctx, q, q); err != nil {
			return err
		}
	}
	return nil
}

// scanAll runs sqlText with args and hands each row's raw values to row.
func (s *Service) scanAll(ctx context.Context, sqlText string, types []uint32, d *decoder, row func(v [][]byte), args ...any) error {
	return s.nativeQuery(ctx, sqlText, func(ctx context.Context, c *pgx.Conn) error {
		if s.unnamed {
			rows, err := queryUnnamed(ctx, c, sqlText, args)
			if err != nil {
				return err
			}
			return decodeRows(rows, types, d, row)
		}
		if err := prepare(ctx, c, sqlText); err != nil {
			return err
		}
		rows, err := c.Query(ctx, sqlText, append([]any{binaryResults}, args...)...)
		if err != nil {
			return err
		}
		return decodeRows(rows, types, d, row)
	})
}

// rawRows is what the decoders read: pgx's rows of a prepared statement,
// or an unnamed statement's (unnamedRows).
type rawRows interface {
	Next() bool
	FieldDescriptions() []pgconn.FieldDescription
	RawValues() [][]byte
	Err() error
	Close()
}

// binaryFormat, given alone, asks for every result column in binary.
var binaryFormat = []int16{pgx.BinaryFormatCode}

// queryUnnamed sends sqlText as the unnamed statement, with binary results,
// in one round trip (Parse, Bind, Execute, Sync) that a pooler in
// transaction mode keeps on one server connection. pgx's own unnamed mode
// (QueryExecModeExec) would do the same but ask for text results; the
// arguments are encoded as that mode does (text, types left to
// PostgreSQL to infer, as it does when it prepares the statement).
func queryUnnamed(ctx context.Context, c *pgx.Conn, sqlText string, args []any) (rawRows, error) {
	var eqb pgx.ExtendedQueryBuilder
	if err := eqb.Build(c.TypeMap(), nil, args); err != nil {
		return nil, fmt.Errorf("native query: encode arguments: %w", err)
	}
	return &unnamedRows{rr: c.PgConn().ExecParams(ctx, sqlText, eqb.ParamValues, nil, eqb.ParamFormats, binaryFormat)}, nil
}

// sendBatch sends b in one round trip ending in one Sync: unnamed behind a
// pooler (batchUnnamed), else each statement prepared first, by prep.
func (s *Service) sendBatch(ctx context.Context, c *pgx.Conn, b *pgx.Batch, prep func(ctx context.Context, c *pgx.Conn, sqlText string) error) (next func() (rawRows, error), closeBatch func() error, err error) {
	if s.unnamed {
		return batchUnnamed(ctx, c, b)
	}
	for _, q := range b.QueuedQueries {
		if err := prep(ctx, c, q.SQL); err != nil {
			return nil, nil, err
		}
	}
	br := c.SendBatch(ctx, b)
	return func() (rawRows, error) { return br.Query() }, br.Close, nil
}

// prepareOne is prepare of one text, for sendBatch.
func prepareOne(ctx context.Context, c *pgx.Conn, sqlText string) error {
	return prepare(ctx, c, sqlText)
}

// batchUnnamed sends every query of b as an unnamed statement, as
// queryUnnamed does, in one round trip ending in one Sync, so a pooler in
// transaction mode runs the whole batch on one server connection.
func batchUnnamed(ctx context.Context, c *pgx.Conn, b *pgx.Batch) (next func() (rawRows, error), closeBatch func() error, err error) {
	var pb pgconn.Batch
	for _, q := range b.QueuedQueries {
		var eqb pgx.ExtendedQueryBuilder
		if err := eqb.Build(c.TypeMap(), nil, q.Arguments); err != nil {
			return nil, nil, fmt.Errorf("native query: encode arguments: %w", err)
		}
		pb.ExecParams(q.SQL, eqb.ParamValues, nil, eqb.ParamFormats, binaryFormat)
	}
	mrr := c.PgConn().ExecBatch(ctx, &pb)
	next = func() (rawRows, error) {
		if !mrr.NextResult() {
			if err := mrr.Close(); err != nil {
				return nil, err
			}
			return nil, errors.New("native query: batch ended early")
		}
		return &unnamedRows{rr: mrr.ResultReader()}, nil
	}
	return next, mrr.Close, nil
}

// unnamedRows reads an unnamed statement's result as rawRows.
type unnamedRows struct {
	rr     *pgconn.ResultReader
	err    error
	closed bool
}

func (r *unnamedRows) Next() bool                                   { return r.rr.NextRow() }
func (r *unnamedRows) FieldDescriptions() []pgconn.FieldDescription { return r.rr.FieldDescriptions() }
func (r *unnamedRows) RawValues() [][]byte                          { return r.rr.Values() }

// Err is the statement's outcome, known once its rows are read.
func (r *unnamedRows) Err() error {
	r.Close()
	return r.err
}

func (r *unnamedRows) Close() {
	if !r.closed {
		r.closed = true
		_, r.err = r.rr.Close()
	}
}

// decodeRows hands each of rows' raw values to row, and closes rows.
func decodeRows(rows rawRows, types []uint32, d *decoder, row func(v [][]byte)) error {
	defer rows.Close()
	checked := false
	for rows.Next() {
		if !checked { // the columns are known once a row (or an error) arrived
			if err := checkColumns(rows, types); err != nil {
				return err
			}
			checked = true
		}
		row(rows.RawValues())
		if d.err != nil {
			return d.err
		}
	}
	return rows.Err()
}

// participantsByRoomIDsPG is ParticipantsByRoomIDs' statement: the rows in
// one slice of values, grouped by room in join order.
func (s *Service) participantsByRoomIDsPG(ctx context.Context, roomIDs []string) ([]models.Participant, error) {
	var d decoder
	rows := make([]models.Participant, 0, 8*len(roomIDs))
	lastRoom := ""
	err := s.scanAll(ctx, sqlParticipantsByRoomIDs, participantTypes, &d, func(v [][]byte) {
		rows = append(rows, models.Participant{})
		p := &rows[len(rows)-1]
		d.participant(v, p, lastRoom)
		lastRoom = p.RoomID
	}, roomIDs)
	return rows, err
}

// usersByIDsPG is UsersByIDs' statement.
func (s *Service) usersByIDsPG(ctx context.Context, ids []string) ([]*models.User, error) {
	var d decoder
	vals := make([]models.User, 0, len(ids))
	err := s.scanAll(ctx, sqlUsersByIDs, userTypes, &d, func(v [][]byte) {
		vals = append(vals, models.User{})
		d.user(v, &vals[len(vals)-1])
	}, ids)
	out := make([]*models.User, len(vals))
	for i := range vals {
		out[i] = &vals[i]
	}
	return out, err
}

// userByIDPG is userByID's statement: sql.ErrNoRows when there is none.
func (s *Service) userByIDPG(ctx context.Context, id string) (*models.User, error) {
	var r userReader
	err := s.scanAll(ctx, sqlUserByID, userTypes, &r.d, r.row, id)
	return r.result(err)
}

// userReader reads sqlUserByID's row.
type userReader struct {
	d decoder
	u *models.User
}

func (r *userReader) row(v [][]byte) {
	r.u = new(models.User)
	r.d.user(v, r.u)
}

func (r *userReader) result(err error) (*models.User, error) {
	if err == nil && r.u == nil {
		err = sql.ErrNoRows
	}
	return r.u, err
}

// userAndVersionByIDPG is userAndVersionByID's statement.
func (s *Service) userAndVersionByIDPG(ctx context.Context, id string) (*models.User, int64, error) {
	var r userReader
	var version int64
	err := s.scanAll(ctx, sqlUserAndVersionByID, userVersionTypes, &r.d, func(v [][]byte) {
		r.row(v)
		r.d.notNull(v, len(userColumns))
		version = r.d.int8(v[len(userColumns)])
	}, id)
	u, err := r.result(err)
	return u, version, err
}

// hostedRoomsPG is HostedRooms' statement for a validated page.
func (s *Service) hostedRoomsPG(ctx context.Context, userID string, page RoomPage) ([]*models.Room, error) {
	sqlText, args, types := roomsQuery(userID, page)
	r := newRoomsReader(page)
	err := s.scanAll(ctx, sqlText, types, &r.d, r.row, args...)
	return r.result(), err
}

// viewerAndRoomsPG runs userByID's statement for id and hostedRooms' for
// id's rooms in one round trip (a pgx batch). The hooks observe two
// statements, the rooms' nested in the viewer's: they share one round
// trip, and its outcome.
func (s *Service) viewerAndRoomsPG(ctx context.Context, id string, page RoomPage) (*models.User, []*models.Room, error) {
	roomsSQL, args, types := roomsQuery(id, page)
	var ur userReader
	var rr roomsReader
	err := s.observed(ctx, sqlUserByID, func(ctx context.Context) error {
		return s.observed(ctx, roomsSQL, func(ctx context.Context) error {
			return s.withPgx(ctx, func(c *pgx.Conn) error {
				ur, rr = userReader{}, newRoomsReader(page) // afresh on a retry
				var b pgx.Batch
				b.Queue(sqlUserByID, id)
				b.Queue(roomsSQL, args...)
				next, closeBatch, err := s.sendBatch(ctx, c, &b, prepareOne)
				if err != nil {
					return err
				}
				err = readBatch(next, func(rows rawRows) error { return decodeRows(rows, userTypes, &ur.d, ur.row) },
					func(rows rawRows) error { return decodeRows(rows, types, &rr.d, rr.row) })
				if cerr := closeBatch(); err == nil {
					err = cerr
				}
				return err
			})
		})
	})
	if err != nil {
		return nil, nil, err
	}
	u, err := ur.result(nil)
	return u, rr.result(), err
}

// readBatch reads a batch's results in order (next gives each), one
// function each.
func readBatch(next func() (rawRows, error), read ...func(rows rawRows) error) error {
	for _, fn := range read {
		rows, err := next()
		if err != nil {
			return err
		}
		if err := fn(rows); err != nil {
			return err
		}
	}
	return nil
}

// roomsQuery is hostedRooms' statement for a validated page: its text,
// arguments and column types.
func roomsQuery(userID string, page RoomPage) (string, []any, []uint32) {
	var b strings.Builder
	b.WriteString(sqlRoomsSelect)
	types := roomTypes
	if page.WithSettings {
		b.WriteString(sqlRoomsWithSettings)
		types = roomSettingsTypes
	} else {
		b.WriteString(" FROM rooms AS room")
	}
	b.WriteString(" WHERE room.host_id = $1")
	args := []any{userID}
	switch page.Status {
	case RoomStatusActive:
		b.WriteString(" AND room.is_active")
	case RoomStatusEnded:
		b.WriteString(" AND NOT room.is_active")
	}
	if page.After != nil {
		args = append(args, *page.After)
		// cursorRoom's row; the same keyset comparison.
		b.WriteString(" AND (room.created_at, room.id) < (SELECT c.created_at, c.id FROM rooms AS c WHERE c.id = $2 AND c.host_id = $1)")
	}
	b.WriteString(" ORDER BY room.created_at DESC, room.id DESC")
	if page.First != nil {
		args = append(args, *page.First)
		fmt.Fprintf(&b, " LIMIT $%d", len(args))
	}
	return b.String(), args, types
}

// roomsReader reads roomsQuery's rows.
type roomsReader struct {
	d            decoder
	withSettings bool
	vals         []models.Room
	settings     []models.RoomSettings
}

func newRoomsReader(page RoomPage) roomsReader {
	n := 16
	if page.First != nil {
		n = min(*page.First, 64)
	}
	r := roomsReader{withSettings: page.WithSettings, vals: make([]models.Room, 0, n)}
	if page.WithSettings {
		r.settings = make([]models.RoomSettings, 0, n)
	}
	return r
}

func (r *roomsReader) row(v [][]byte) {
	r.vals = append(r.vals, models.Room{})
	r.d.room(v, &r.vals[len(r.vals)-1])
	if r.withSettings {
		r.settings = append(r.settings, models.RoomSettings{})
		if !r.d.settings(v[len(roomTypes):], &r.settings[len(r.settings)-1]) {
			r.settings = r.settings[:len(r.settings)-1]
		}
	}
}

// result points at the rows only once they are all read: the slices have
// stopped growing.
func (r *roomsReader) result() []*models.Room {
	out := make([]*models.Room, len(r.vals))
	k := 0
	for i := range r.vals {
		out[i] = &r.vals[i]
		if r.withSettings && k < len(r.settings) && r.settings[k].RoomID == r.vals[i].ID {
			r.vals[i].JoinedSettings = &r.settings[k]
			k++
		}
	}
	return out
}
