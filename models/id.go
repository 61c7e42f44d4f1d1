package models

import "github.com/lucsky/cuid"

// NewID returns a collision-resistant cuid, the id format the legacy
// service used (25 characters, starting with "c"), so ids from both
// systems look alike and sort roughly by creation time.
func NewID() string {
	return cuid.New()
}
