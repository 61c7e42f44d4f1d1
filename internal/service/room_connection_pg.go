package service

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/jackc/pgx/v5"

	"github.com/neuronmeet/api/models"
)

// A connection's statements on PostgreSQL, natively: the same conditions
// as the Bun path (roomSet, connectionPlan), rendered with parameters, the
// page's first range, its total count and what lies beyond its cursor in
// one round trip, with binary results. Their texts vary with the filter,
// the order and the cursors, so they go unnamed rather than filling each
// connection's prepared statements. TestNativeConnection_MatchesBun holds
// them to the Bun path.

// writeNative writes c's SQL with each ? as the next $n parameter, its
// argument appended to args.
func writeNative(b *strings.Builder, args *[]any, c sqlCond) {
	k := 0
	for i := 0; i < len(c.sql); i++ {
		if c.sql[i] != '?' {
			b.WriteByte(c.sql[i])
			continue
		}
		var arg any
		if k < len(c.args) {
			arg = c.args[k]
		}
		k++
		*args = append(*args, arg)
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(len(*args)))
	}
}

// writeFromWhere writes the FROM (its joins after extraJoin) and WHERE of
// the set narrowed by more.
func writeFromWhere(b *strings.Builder, args *[]any, extraJoin string, set roomSet, more []sqlCond) {
	b.WriteString(" FROM rooms AS room")
	b.WriteString(extraJoin)
	if set.join.sql != "" {
		b.WriteByte(' ')
		writeNative(b, args, set.join)
	}
	for i, c := range append(set.conds[:len(set.conds):len(set.conds)], more...) {
		if i == 0 {
			b.WriteString(" WHERE (")
		} else {
			b.WriteString(" AND (")
		}
		writeNative(b, args, c)
		b.WriteByte(')')
	}
}

// sqlSettingsJoin is sqlRoomsWithSettings' join alone.
var sqlSettingsJoin = " LEFT JOIN LATERAL (SELECT * FROM room_settings AS rs WHERE rs.room_id = room.id LIMIT 1) AS joined_settings ON TRUE"

// pageStatement is the page's statement for segment, reading up to limit
// rows: the room's columns, the sort value, then the settings'.
func (p *connectionPlan) pageStatement(segment sqlCond, limit int, r *connectionReader) nativeStatement {
	var b strings.Builder
	b.Grow(768)
	args := make([]any, 0, 8)
	b.WriteString(sqlRoomsSelect)
	b.WriteString(", ")
	b.WriteString(p.col.expr)
	b.WriteString(" AS ")
	b.WriteString(p.sortAlias())
	join := ""
	if p.args.WithSettings {
		b.WriteString(", ")
		b.WriteString(columnsOf("joined_settings", settingsColumnList))
		join = sqlSettingsJoin
	}
	writeFromWhere(&b, &args, join, p.set, p.pageConds(segment))
	b.WriteString(" ORDER BY ")
	b.WriteString(p.col.orderBy(p.readAsc))
	args = append(args, limit)
	b.WriteString(" LIMIT $" + strconv.Itoa(len(args)))
	return nativeStatement{sql: b.String(), args: args, types: r.types(), d: &r.d, row: r.row}
}

// countStatement is totalCount's statement.
func (p *connectionPlan) countStatement(n *int64, d *decoder) nativeStatement {
	var b strings.Builder
	var args []any
	b.WriteString("SELECT count(*)")
	writeFromWhere(&b, &args, "", p.set, nil)
	return nativeStatement{sql: b.String(), args: args, types: []uint32{tInt8}, d: d, row: func(v [][]byte) {
		d.notNull(v, 0)
		*n = d.int8(v[0])
	}}
}

// beyondStatement is the check of what lies beyond the page's starting
// cursor (connectionPlan.beyond).
func (p *connectionPlan) beyondStatement(c sqlCond, ok *bool, d *decoder) nativeStatement {
	var b strings.Builder
	var args []any
	b.WriteString("SELECT EXISTS (SELECT 1")
	writeFromWhere(&b, &args, "", p.set, []sqlCond{c})
	b.WriteString(")")
	return nativeStatement{sql: b.String(), args: args, types: []uint32{tBool}, d: d, row: func(v [][]byte) {
		d.notNull(v, 0)
		*ok = d.bool(v[0])
	}}
}

// connectionPagePG reads the page natively: its first range, with the
// total count when wanted and the check beyond the cursor when there is
// one, in one round trip; a second range, when the page crosses into it
// and is not yet full, in another. first, when given, leads the batch (the
// viewer's lookup, see ViewerRoomsConnection).
func (s *Service) connectionPagePG(ctx context.Context, p *connectionPlan, first *nativeStatement) (connectionPage, error) {
	var page connectionPage
	segments := p.segments()
	var r connectionReader
	var count int64
	var d decoder
	err := s.nativeBatch(ctx, func() []nativeStatement {
		// Afresh on each attempt: a retry must not see a failed one's rows.
		r, count, d, page.beyond = newConnectionReader(p), 0, decoder{}, false
		var stmts []nativeStatement
		if first != nil {
			stmts = append(stmts, first.fresh())
		}
		stmts = append(stmts, p.pageStatement(segments[0], p.n+1, &r))
		if p.args.WithCount {
			stmts = append(stmts, p.countStatement(&count, &d))
		}
		if c, ok := p.beyond(); ok {
			stmts = append(stmts, p.beyondStatement(c, &page.beyond, &d))
		}
		return stmts
	})
	if err != nil {
		return page, fmt.Errorf("load rooms: %w", err)
	}
	page.rows = r.result()
	page.count, page.counted = int(count), p.args.WithCount
	for _, segment := range segments[1:] {
		if len(page.rows) > p.n {
			break
		}
		var more connectionReader
		if err := s.nativeBatch(ctx, func() []nativeStatement {
			more = newConnectionReader(p)
			return []nativeStatement{p.pageStatement(segment, p.n+1-len(page.rows), &more)}
		}); err != nil {
			return page, fmt.Errorf("load rooms: %w", err)
		}
		page.rows = append(page.rows, more.result()...)
	}
	return page, nil
}

// nativeStatement is one statement of a native batch and how its rows are
// decoded.
type nativeStatement struct {
	sql   string
	args  []any
	types []uint32
	d     *decoder
	row   func(v [][]byte)
	// reset, when set, readies the statement's reader for another attempt
	// (fresh).
	reset func()
}

// fresh is st with its reader reset.
func (st *nativeStatement) fresh() nativeStatement {
	if st.reset != nil {
		st.reset()
	}
	return *st
}

// nativeBatch runs the statements stmts returns in one round trip, unnamed,
// each observed by Bun's hooks as its own statement (nested, as
// viewerAndRoomsPG's: they share the round trip and its outcome). stmts is
// called on every attempt (see withPgx), to start its readers afresh.
func (s *Service) nativeBatch(ctx context.Context, stmts func() []nativeStatement) error {
	texts := stmts()
	var observe func(ctx context.Context, i int) error
	observe = func(ctx context.Context, i int) error {
		if i < len(texts) {
			return s.observed(ctx, texts[i].sql, func(ctx context.Context) error { return observe(ctx, i+1) })
		}
		attempt := 0
		return s.withPgx(ctx, func(c *pgx.Conn) error {
			list := texts
			if attempt++; attempt > 1 {
				list = stmts()
			}
			var b pgx.Batch
			for _, st := range list {
				b.Queue(st.sql, st.args...)
				if s.nativeArgs != nil {
					s.nativeArgs(st.sql, st.args)
				}
			}
			next, closeBatch, err := s.sendBatch(ctx, c, &b, prepareBounded)
			if err != nil {
				return err
			}
			read := make([]func(rows rawRows) error, len(list))
			for i, st := range list {
				read[i] = func(rows rawRows) error { return decodeRows(rows, st.types, st.d, st.row) }
			}
			err = readBatch(next, read...)
			if cerr := closeBatch(); err == nil {
				err = cerr
			}
			return err
		})
	}
	return observe(ctx, 0)
}

// preparedConnectionTexts is how many of the connection statements' texts
// one database connection keeps prepared. Their text is a function of the
// arguments' shape (filter, order, cursors, what is selected), not their
// values, so a dashboard's few shapes stay prepared and PostgreSQL plans
// each once; the shapes possible number in the thousands, so beyond this
// the least recently used is deallocated rather than letting a client
// fill the server's memory with plans. It must exceed a batch's
// statements (four at most), so that preparing one never evicts another
// of the same batch.
const preparedConnectionTexts = 32

// preparedTextsKey holds, in a connection's CustomData, its prepared
// connection texts (an LRU).
const preparedTextsKey = "neuronmeet.connectionTexts"

// prepareBounded prepares sqlText on c (named by its text, as prepare
// does), keeping at most preparedConnectionTexts of them. A connection is
// used by one request at a time, so its LRU needs no lock.
func prepareBounded(ctx context.Context, c *pgx.Conn, sqlText string) error {
	data := c.PgConn().CustomData()
	texts, _ := data[preparedTextsKey].(*simplelru.LRU[string, struct{}])
	if texts == nil {
		var err error
		if texts, err = simplelru.NewLRU[string, struct{}](preparedConnectionTexts, nil); err != nil {
			return err
		}
		data[preparedTextsKey] = texts
	}
	if _, ok := texts.Get(sqlText); ok {
		return nil
	}
	if texts.Len() == preparedConnectionTexts {
		oldest, _, _ := texts.RemoveOldest()
		if err := c.Deallocate(ctx, oldest); err != nil {
			return fmt.Errorf("deallocate a connection statement: %w", err)
		}
	}
	if err := prepare(ctx, c, sqlText); err != nil {
		return err
	}
	texts.Add(sqlText, struct{}{})
	return nil
}

// connectionReader reads a page statement's rows.
type connectionReader struct {
	d            decoder
	kind         byte
	withSettings bool
	rows         []connectionRow
	settings     []models.RoomSettings
}

func newConnectionReader(p *connectionPlan) connectionReader {
	r := connectionReader{kind: p.col.kind, withSettings: p.args.WithSettings, rows: make([]connectionRow, 0, min(p.n+1, 64))}
	if r.withSettings {
		r.settings = make([]models.RoomSettings, 0, min(p.n+1, 64))
	}
	return r
}

// connectionTypes are a page statement's column types, by sort kind and
// whether the settings are joined.
var connectionTypes = func() map[[2]int][]uint32 {
	out := map[[2]int][]uint32{}
	for kind, t := range map[byte]uint32{'t': tTime, 's': tVarchar, 'i': tInt4} {
		base := append(append([]uint32{}, roomTypes...), t)
		out[[2]int{int(kind), 0}] = base
		out[[2]int{int(kind), 1}] = append(append([]uint32{}, base...), settingsTypes...)
	}
	return out
}()

func (r *connectionReader) types() []uint32 {
	with := 0
	if r.withSettings {
		with = 1
	}
	return connectionTypes[[2]int{int(r.kind), with}]
}

func (r *connectionReader) row(v [][]byte) {
	r.rows = append(r.rows, connectionRow{})
	c := &r.rows[len(r.rows)-1]
	r.d.room(v, &c.Room)
	if sv := v[len(roomTypes)]; sv != nil {
		switch r.kind {
		case 't':
			c.SortTime = r.d.timePtr(sv)
		case 's':
			c.SortText = r.d.strPtr(sv)
		default:
			n := int64(r.d.int4(sv))
			c.SortInt = &n
		}
	}
	if r.withSettings {
		r.settings = append(r.settings, models.RoomSettings{})
		if !r.d.settings(v[len(roomTypes)+1:], &r.settings[len(r.settings)-1]) {
			r.settings = r.settings[:len(r.settings)-1]
		}
	}
}

// result points at the rows only once they are all read: the slices have
// stopped growing.
func (r *connectionReader) result() []*connectionRow {
	out := make([]*connectionRow, len(r.rows))
	k := 0
	for i := range r.rows {
		out[i] = &r.rows[i]
		if r.withSettings && k < len(r.settings) && r.settings[k].RoomID == r.rows[i].ID {
			r.rows[i].JoinedSettings = &r.settings[k]
			k++
		}
	}
	return out
}
