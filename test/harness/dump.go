package harness

import (
	"context"
	"testing"

	"github.com/uptrace/bun"
)

// CountRows counts the rows of table.
func CountRows(t testing.TB, bdb *bun.DB, table string) int {
	t.Helper()
	var n int
	if err := bdb.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}
