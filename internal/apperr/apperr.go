// Package apperr defines the few typed errors the domain returns, and the
// one vocabulary of codes and reasons clients see, whichever edge or
// transport answers. The edges (GraphQL's error presenter and the REST
// shim) map the errors to codes and status codes in one place each; any
// other error is internal and never shown.
package apperr

import (
	"errors"
	"fmt"
	"time"
)

// Code is the machine-readable class of an error, exposed to GraphQL
// clients as extensions.code.
type Code string

// The codes clients can rely on: every extensions.code the server sends
// is one of these, so this block and the README's error table are the
// whole vocabulary (readme_test.go holds them equal).
const (
	Unauthenticated Code = "UNAUTHENTICATED"
	Forbidden       Code = "FORBIDDEN"
	NotFound        Code = "NOT_FOUND"
	BadUserInput    Code = "BAD_USER_INPUT"
	Conflict        Code = "CONFLICT"
	// TooManyRequests refuses an attempt over a rate limit or a stream
	// limit; RetryAfter says when the next one may succeed.
	TooManyRequests Code = "TOO_MANY_REQUESTS"
	// SubscriptionInterrupted ends a subscription that may have missed
	// events; Reason says why. Clients resubscribe and refetch the room.
	SubscriptionInterrupted Code = "SUBSCRIPTION_INTERRUPTED"
	// ServiceUnavailable answers what a retry may cure: the database is
	// down or slow, the server is starting, or it is too busy.
	ServiceUnavailable Code = "SERVICE_UNAVAILABLE"
	// Internal is all a client learns of an unexpected failure.
	Internal Code = "INTERNAL_SERVER_ERROR"

	// Documents refused before execution by the GraphQL limits: protocol
	// errors, answered 422 (400 for application/graphql-response+json).
	QueryTooDeep    Code = "QUERY_TOO_DEEP"
	TooManyAliases  Code = "TOO_MANY_ALIASES"
	QueryTooComplex Code = "QUERY_TOO_COMPLEX"
	TooManySignIns  Code = "TOO_MANY_SIGN_INS"
	// PayloadTooLarge answers 413 a body over the limit, unread.
	PayloadTooLarge Code = "PAYLOAD_TOO_LARGE"
	// BadRequest answers 400 a body that could not be read at all.
	BadRequest Code = "BAD_REQUEST"
	// StreamingTransportRequired refuses a subscription sent over a
	// transport that answers once.
	StreamingTransportRequired Code = "STREAMING_TRANSPORT_REQUIRED"
	// IntrospectionDisabled refuses an introspection query (__schema,
	// __type) where introspection is off (APP_ENV=production).
	IntrospectionDisabled Code = "INTROSPECTION_DISABLED"

	// gqlgen sets these itself; they are named here so that the
	// vocabulary is whole, and graph's tests hold them to gqlgen's.
	GraphQLParseFailed      Code = "GRAPHQL_PARSE_FAILED"
	GraphQLValidationFailed Code = "GRAPHQL_VALIDATION_FAILED"
	PersistedQueryNotFound  Code = "PERSISTED_QUERY_NOT_FOUND"
)

// Reason refines a Code for clients that branch on it, exposed as
// extensions.reason.
type Reason string

// The reasons clients can rely on, under the codes they come with.
const (
	// UNAUTHENTICATED
	InvalidCredentials Reason = "INVALID_CREDENTIALS"

	// BAD_USER_INPUT whose validity depends on the room's state, not on
	// the form alone (a client may want to tell the host who is in the way).
	BelowActiveParticipants Reason = "BELOW_ACTIVE_PARTICIPANTS"

	// FORBIDDEN
	NotHost          Reason = "NOT_HOST"
	NotSelf          Reason = "NOT_SELF"
	NotParticipant   Reason = "NOT_PARTICIPANT"
	NotInRoom        Reason = "NOT_IN_ROOM"
	RoomLocked       Reason = "ROOM_LOCKED"
	GuestsNotAllowed Reason = "GUESTS_NOT_ALLOWED"
	ChatDisabled     Reason = "CHAT_DISABLED"
	NotSender        Reason = "NOT_SENDER"

	// CONFLICT
	RoomEnded   Reason = "ROOM_ENDED"
	RoomFull    Reason = "ROOM_FULL"
	AlreadyLeft Reason = "ALREADY_LEFT"
	EmailTaken  Reason = "EMAIL_TAKEN"

	// TOO_MANY_REQUESTS from a stream limit (rate limits give no reason:
	// naming the limit would help a guesser).
	StreamsPerUser             Reason = "STREAMS_PER_USER"
	StreamsPerAddress          Reason = "STREAMS_PER_ADDRESS"
	SubscriptionsPerConnection Reason = "SUBSCRIPTIONS_PER_CONNECTION"
	OperationsPerConnection    Reason = "OPERATIONS_PER_CONNECTION"

	// SUBSCRIPTION_INTERRUPTED
	TooSlow            Reason = "TOO_SLOW"
	EventsInterrupted  Reason = "EVENTS_INTERRUPTED"
	EventsUnavailable  Reason = "EVENTS_UNAVAILABLE"
	ServerShuttingDown Reason = "SERVER_SHUTTING_DOWN"
)

// Error is a client-safe error: its message is meant for the caller.
type Error struct {
	Code    Code
	Message string
	// Field names the offending input field for BadUserInput.
	Field string
	// Reason refines Code for clients that branch on it (e.g. RoomFull).
	Reason Reason
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

// InvalidReason reports bad input in field, refined by reason.
func InvalidReason(field string, reason Reason, message string) *Error {
	return &Error{Code: BadUserInput, Field: field, Reason: reason, Message: message}
}

// NotFoundf reports a missing (or invisible) resource.
func NotFoundf(format string, args ...any) *Error {
	return &Error{Code: NotFound, Message: fmt.Sprintf(format, args...)}
}

// ForbiddenReason reports an action the caller may not take.
func ForbiddenReason(reason Reason, message string) *Error {
	return &Error{Code: Forbidden, Reason: reason, Message: message}
}

// ConflictReason reports an action the resource's current state refuses.
func ConflictReason(reason Reason, message string) *Error {
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
