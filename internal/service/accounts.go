package service

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/ratelimit"
	"github.com/neuronmeet/api/models"
)

// RegisterInput is the sign-up form (GraphQL input and REST body).
type RegisterInput struct {
	Email       string `json:"email"`
	Password    string `json:"password"`
	DisplayName string `json:"displayName"`
}

// LoginInput is the sign-in form.
type LoginInput struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// AuthResult is a signed-in user and their access token.
type AuthResult struct {
	User        *models.User
	AccessToken string
}

// ErrInvalidCredentials is the only thing a failed login says: it does not
// tell a wrong password from an unknown email.
var ErrInvalidCredentials = &apperr.Error{Code: apperr.Unauthenticated, Reason: apperr.InvalidCredentials, Message: "invalid credentials"}

// ErrEmailTaken is the conflict a duplicate registration gets.
var ErrEmailTaken = &apperr.Error{Code: apperr.Conflict, Reason: apperr.EmailTaken, Message: "email already registered"}

// Register creates an account and signs it in.
func (s *Service) Register(ctx context.Context, in RegisterInput) (*AuthResult, error) {
	var problems []*apperr.Error
	email, err := normalizeEmail(in.Email)
	problems = appendInvalid(problems, err)
	problems = appendInvalid(problems, checkPassword(in.Password))
	displayName, err := checkName("displayName", in.DisplayName, MinDisplayName, MaxDisplayName)
	problems = appendInvalid(problems, err)
	if err := apperr.Invalids(problems...); err != nil {
		return nil, err
	}
	// Before the bcrypt run, which is what a flood would make us pay for.
	if err := s.limits.Check(ctx, ratelimit.Register, email); err != nil {
		return nil, err
	}
	hash, err := s.passwords.Hash(in.Password)
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	now := s.now()
	u := &models.User{
		ID:           models.NewID(),
		Email:        email,
		PasswordHash: hash,
		DisplayName:  displayName,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	// The unique index decides races: of two concurrent registrations of
	// one email, exactly one insert succeeds and the other is a conflict.
	if _, err := s.db.NewInsert().Model(u).Exec(ctx); err != nil {
		if db.IsUniqueViolation(err) {
			return nil, ErrEmailTaken
		}
		return nil, fmt.Errorf("register: insert user: %w", err)
	}
	return s.signIn(ctx, u)
}

// Login checks credentials and returns a fresh token.
func (s *Service) Login(ctx context.Context, in LoginInput) (*AuthResult, error) {
	email, err := normalizeEmail(in.Email)
	if err != nil {
		return nil, err
	}
	if in.Password == "" {
		return nil, apperr.Invalid("password", "password must not be empty")
	}
	// Every attempt counts against the address; only wrong passwords count
	// against the email, from this address and from all addresses (see
	// ratelimit.Defaults), so a stranger's guesses cannot lock the owner
	// out, yet guessing one account from many addresses stays bounded.
	if err := s.limits.Check(ctx, ratelimit.Login, email); err != nil {
		return nil, err
	}
	u := new(models.User)
	err = s.db.NewSelect().Model(u).Where("email = ?", email).Limit(1).Scan(ctx)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("login: load user: %w", err)
	}
	hash := u.PasswordHash // "" when there is no such user: Check then burns the same time
	if len(in.Password) > MaxPasswordBytes {
		hash = "" // could never have been set; still spend the time
	}
	ok, err := s.passwords.Check(hash, in.Password)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	if !ok {
		s.limits.Failed(ctx, ratelimit.Login, email)
		return nil, ErrInvalidCredentials
	}
	s.limits.Succeeded(ctx, ratelimit.Login, email)
	return s.signIn(ctx, u)
}

func (s *Service) signIn(ctx context.Context, u *models.User) (*AuthResult, error) {
	auth.MarkSignedIn(ctx, u.ID)
	token, err := s.tokens.IssueUser(u.ID, u.Email)
	if err != nil {
		return nil, err
	}
	return &AuthResult{User: u, AccessToken: token}, nil
}
