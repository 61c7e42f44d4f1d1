package service

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/models"
)

// MaxAvatarURL is the longest avatar URL accepted (the column's width).
const MaxAvatarURL = 2048

var errUserNotFound = apperr.NotFoundf("user not found")

// User returns the account id to any signed-in caller: what everyone may
// see of it (id, display name, avatar, creation time). Its email is for
// the user themself only; see VisibleEmail.
func (s *Service) User(ctx context.Context, id string) (*models.User, error) {
	if _, err := s.Viewer(ctx); err != nil {
		return nil, err
	}
	if !isKey(id) {
		return nil, errUserNotFound
	}
	u, err := s.userByID(ctx, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errUserNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load user: %w", err)
	}
	return u, nil
}

// VisibleEmail returns u's email when the caller is u, and nil to anyone
// else.
func VisibleEmail(ctx context.Context, u *models.User) *string {
	if !auth.IsSelf(ctx, u.ID) {
		return nil
	}
	return &u.Email
}

// Nullable is an input field that can be left alone, set or cleared: a
// PATCH body without the key leaves it (Set false), null clears it (Set,
// Value nil), a value replaces it.
type Nullable[T any] struct {
	Set   bool
	Value *T
}

// UnmarshalJSON records that the key was present, and its value.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	n.Value = nil
	if string(b) == "null" {
		return nil
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return err
	}
	n.Value = v
	return nil
}

// UpdateProfileInput changes what others see of the signed-in user. Absent
// fields are left alone; AvatarURL can also be cleared.
type UpdateProfileInput struct {
	DisplayName *string          `json:"displayName"`
	AvatarURL   Nullable[string] `json:"avatarUrl"`
}

// UpdateProfile applies in to the signed-in user and returns the result.
// Every bad field is reported at once; nothing changes unless all are good.
func (s *Service) UpdateProfile(ctx context.Context, in UpdateProfileInput) (*models.User, error) {
	viewer, err := s.Viewer(ctx)
	if err != nil {
		return nil, err
	}
	var (
		problems    []*apperr.Error
		displayName string
		avatar      *string
	)
	if in.DisplayName != nil {
		displayName, err = checkName("displayName", *in.DisplayName, MinDisplayName, MaxDisplayName)
		problems = appendInvalid(problems, err)
	}
	if in.AvatarURL.Value != nil {
		avatar, err = checkAvatarURL(*in.AvatarURL.Value)
		problems = appendInvalid(problems, err)
	}
	if err := apperr.Invalids(problems...); err != nil {
		return nil, err
	}
	if in.DisplayName == nil && !in.AvatarURL.Set {
		return viewer, nil // nothing to change
	}
	u := *viewer
	if in.DisplayName != nil {
		u.DisplayName = displayName
	}
	if in.AvatarURL.Set {
		u.AvatarURL = avatar
	}
	u.UpdatedAt = s.now()
	res, err := s.db.NewUpdate().Model(&u).Column("display_name", "avatar_url", "updated_at").WherePK().Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("update profile: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		// Deleted since the token was checked: as for any vanished account.
		return nil, apperr.Unauthenticatedf("invalid or expired token")
	}
	*viewer = u // the request's cached viewer is the updated user from now on
	return viewer, nil
}

// checkAvatarURL accepts an absolute http or https URL with a host, of at
// most MaxAvatarURL characters, and returns it trimmed.
func checkAvatarURL(raw string) (*string, error) {
	s := strings.TrimSpace(raw)
	if utf8.RuneCountInString(s) > MaxAvatarURL {
		return nil, apperr.Invalid("avatarUrl", "avatarUrl must be shorter than or equal to "+strconv.Itoa(MaxAvatarURL)+" characters")
	}
	invalid := apperr.Invalid("avatarUrl", "avatarUrl must be an http or https URL")
	if !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return nil, invalid
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, invalid
	}
	return &s, nil
}
