package dbtest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/uptrace/bun"
)

// Tables are the product's tables, in the order DumpTables renders them.
var Tables = []string{"users", "rooms", "room_settings", "participants", "messages"}

// DumpTables renders every row of tables (all of Tables when none are
// named), so that two equal dumps prove nothing was written: a refused
// operation changed nothing at all.
func DumpTables(t testing.TB, bdb *bun.DB, tables ...string) string {
	t.Helper()
	if len(tables) == 0 {
		tables = Tables
	}
	ctx := context.Background()
	var b strings.Builder
	for _, table := range tables {
		rows, err := bdb.QueryContext(ctx, "SELECT * FROM "+table+" ORDER BY id")
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %v\n", table, cols)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if raw, ok := v.([]byte); ok {
					vals[i] = string(raw)
				}
			}
			fmt.Fprintf(&b, "%q\n", fmt.Sprint(vals...))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return b.String()
}
