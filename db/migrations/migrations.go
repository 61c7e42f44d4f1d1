// Package migrations embeds the schema migrations. Each is plain SQL that
// both PostgreSQL and SQLite accept, so one history serves both dialects,
// or Go with a statement list per dialect where their languages differ.
// Every migration has a down as well as an up (a .down.sql file, or the Go
// migration's second function), for `migrate rollback`.
package migrations

import (
	"embed"

	"github.com/uptrace/bun/migrate"
)

//go:embed *.sql
var files embed.FS

// Migrations is the full, ordered migration history.
var Migrations = migrate.NewMigrations()

func init() {
	if err := Migrations.Discover(files); err != nil {
		panic(err)
	}
}
