// Package apperr defines the few typed errors the domain returns. The edges
// (GraphQL's error presenter and the REST shim) map them to codes and status
// codes in one place each; any other error is internal and never shown.
package apperr

import (
	"errors"
	"fmt"
	"time"
)

// Code is the machine-readable class of an error, exposed to GraphQL
// clients as extensions.code.
type Code string

// The codes clients can rely on.
const (
	Unauthenticated Code = "UNAUTHENTICATED"
	Forbidden       Code = "FORBIDDEN"
	NotFound        Code = "NOT_FOUND"
	BadUserInput    Code = "BAD_USER_INPUT"
	Conflict        Code = "CONFLICT"
	// TooManyRequests refuses an attempt over a rate limit; RetryAfter
	// says when the next one may succeed.
	TooManyRequests Code = "TOO_MANY_REQUESTS"
)

// Error is a client-safe error: its message is meant for the caller.
type Error struct {
	Code    Code
	Message string
	// Field names the offending input field for BadUserInput.
	Field string
	// Reason refines Code for clients that branch on it (e.g. ROOM_FULL).
	Reason string
	// All holds every input error when several were found at once.
	All []*Error
	// RetryAfter is how long to wait before retrying (TooManyRequests).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// CodeOf returns err's code, or "" for internal errors.
func CodeOf(err error) Code {
	if e, ok := As(err); ok {
		return e.Code
	}
	return ""
}

// Invalid reports bad input in field.
func Invalid(field, message string) *Error {
	return &Error{Code: BadUserInput, Field: field, Message: message}
}

// NotFoundf reports a missing (or invisible) resource.
func NotFoundf(format string, args ...any) *Error {
	return &Error{Code: NotFound, Message: fmt.Sprintf(format, args...)}
}

// ForbiddenReason reports an action the caller may not take.
func ForbiddenReason(reason, message string) *Error {
	return &Error{Code: Forbidden, Reason: reason, Message: message}
}

// ConflictReason reports an action the resource's current state refuses.
func ConflictReason(reason, message string) *Error {
	return &Error{Code: Conflict, Reason: reason, Message: message}
}

// Unauthenticatedf reports a missing or unusable credential.
func Unauthenticatedf(format string, args ...any) *Error {
	return &Error{Code: Unauthenticated, Message: fmt.Sprintf(format, args...)}
}

// Invalids collects several input errors into one BAD_USER_INPUT error, so
// a form with three mistakes reports all three. It returns nil when errs is
// empty and the error itself when there is one.
func Invalids(errs ...*Error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	first := *errs[0]
	first.All = errs
	return &first
}

// Messages lists the messages of every input error e stands for.
func (e *Error) Messages() []string {
	if len(e.All) == 0 {
		return []string{e.Message}
	}
	out := make([]string, len(e.All))
	for i, x := range e.All {
		out[i] = x.Message
	}
	return out
}
