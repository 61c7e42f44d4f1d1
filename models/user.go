// Package models holds the Bun models. gqlgen binds them directly as the
// GraphQL types wherever the shapes match, so a row travels from the
// database to the response without being copied into another struct.
package models

import (
	"time"

	"github.com/uptrace/bun"
)

// User is an account that can host rooms and join them.
type User struct {
	bun.BaseModel `bun:"table:users"`

	ID           string    `bun:"id,pk"`
	Email        string    `bun:"email,notnull"`
	PasswordHash string    `bun:"password_hash,notnull"`
	Name         *string   `bun:"name"`
	DisplayName  string    `bun:"display_name,notnull"`
	AvatarURL    *string   `bun:"avatar_url"`
	CreatedAt    time.Time `bun:"created_at,notnull"`
	UpdatedAt    time.Time `bun:"updated_at,notnull"`
}

// PublicName is what other people see: the display name, falling back to
// the legacy name column for accounts created before display names existed.
func (u *User) PublicName() string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	if u.Name != nil {
		return *u.Name
	}
	return ""
}
