package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/neuronmeet/api/internal/respcache"
	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/models"
)

// answerCache answers repeated queries about the viewer's own data (me and
// what lies under it) from internal/respcache, as long as the viewer's
// answers version has not changed: a hit costs the one statement that
// loads the viewer with the version.
type answerCache struct {
	svc   *service.Service
	store *respcache.Cache
	// known maps request bodies whose answers were kept to what serve
	// learned of them (see serveKnown).
	known *lru.Cache[string, knownRequest]
}

// knownRequest is what a body that was answered from the cache decodes,
// parses and validates to: the same every time, since the schema and the
// checks are fixed for the process.
type knownRequest struct {
	request string                   // requestKey's result
	op      *ast.OperationDefinition // for labelCachedAnswer
}

// Known requests: dashboards poll with the same few documents, and the
// body of one is a few hundred bytes, so at most 2 MiB of bodies.
const (
	knownRequests        = 256
	knownRequestMaxBytes = 8 << 10
)

func newAnswerCache(svc *service.Service, store *respcache.Cache) *answerCache {
	known, err := lru.New[string, knownRequest](knownRequests)
	if err != nil {
		panic(err) // only for a size below one
	}
	return &answerCache{svc: svc, store: store, known: known}
}

// serveKnown answers a POSTed body seen before from a current entry,
// before gqlgen decodes, parses, validates and measures it again: what
// those decide is a function of the body, and they decided it could be
// cached. It reports false, having written nothing, for an unknown body
// or an entry that is not current; serve then does everything, and the
// viewer, loaded once per request, costs no second statement.
func (c *answerCache) serveKnown(ctx context.Context, w http.ResponseWriter, r *http.Request, body []byte, contentType string) (bool, *viewerAt) {
	known, ok := c.known.Get(string(body))
	if !ok {
		return false, nil
	}
	viewer, version, err := c.svc.ViewerVersion(ctx)
	if err != nil {
		return false, nil
	}
	at := &viewerAt{viewer: viewer, version: version}
	e, ok := c.store.Current(respcache.Key{Edge: respcache.GraphQL, Viewer: viewer.ID, Request: known.request}, version)
	if !ok {
		return false, at
	}
	labelCachedAnswer(ctx, known.op)
	c.store.Write(w, r, respcache.GraphQL, e, contentType)
	return true, at
}

// viewerAt is the viewer and answers version a request has read. It can
// be read only once per request (see Service.ViewerVersion), so serveKnown
// hands it on to serve.
type viewerAt struct {
	viewer  *models.User
	version int64
}

// versionedFields says, per type, which fields the viewer's answers version
// covers when they are reached from Query.me: their values change only by
// writes that give the viewer a new version (see db/migrations'
// answers_version). Only documents made of covered fields are cached.
// TestAnswerCache_FieldsAreDecided makes a field added to any of these
// types, or a new type reachable from them, fail until it is decided here:
// a field whose value depends on anything else (the clock, another user's
// data) would make cached answers stale.
var versionedFields = map[string]map[string]bool{
	// room and roomByCode read rooms of other hosts, user other users.
	"Query": {"me": true, "room": false, "roomByCode": false, "user": false},
	// rooms of another user is refused (NOT_SELF), and answers with errors
	// are never kept: under me, the rooms listed are the viewer's own.
	//
	// roomsConnection lists the viewer's own rooms too (its filters and
	// orders read the rooms' stored statistics, which only writes to the
	// rooms change, and its cursors are a function of the rows). attended
	// lists other hosts' rooms, whose writes bump their hosts' versions,
	// not the attendee's: never cached.
	"User": {
		"id": true, "email": true, "name": true, "displayName": true, "avatarUrl": true, "createdAt": true, "rooms": true,
		"roomsConnection": true, "attended": false,
		// usage reads the viewer's own rooms and their participants; what
		// depends on the clock is decided in UsageRow.
		"usage": true,
	},
	// Rooms are created and started only by writes that bump the host's
	// version, and a bucket's bounds are the arguments'. Presence in the
	// buckets grows with the clock and no write marks it: participant
	// seconds while someone is present, and the peak and the people of a
	// bucket that now enters with someone still there (an open presence is
	// present up to now). An answer holding them is always made afresh, as
	// for RoomStats' durations.
	"UsageRow": {
		"start": true, "end": true, "roomsCreated": true, "sessions": true,
		"participantSeconds": false, "peakParticipants": false, "uniqueParticipants": false,
	},
	"RoomConnection": {"totalCount": true, "pageInfo": true, "edges": true, "nodes": true},
	"RoomEdge":       {"cursor": true, "node": true},
	"PageInfo":       {"hasNextPage": true, "hasPreviousPage": true, "startCursor": true, "endCursor": true},
	// A room under me is hosted by the viewer, so host is the viewer.
	"Room": {
		"id": true, "code": true, "name": true, "hostId": true, "host": true, "isActive": true, "isLocked": true,
		"startedAt": true, "endedAt": true, "createdAt": true, "updatedAt": true, "settings": true, "participants": true,
		// No trigger gives the host a new version when a message is sent
		// or deleted (a busy chat would empty the host's cache with every
		// line): a dashboard reading the chat is answered afresh.
		"messages": false,
		// Joins, leaves, the end and settings changes all bump the host's
		// version; what depends on the clock is decided in RoomStats.
		"stats": true,
	},
	// An active room's durationSeconds, and its participantSeconds while
	// anyone is present, grow with the clock and no write marks it: an
	// answer holding them is always made afresh. The counts and the last
	// activity change only with writes to the room and its participants.
	"RoomStats": {
		"activeParticipants": true, "peakParticipants": true, "uniqueParticipants": true, "totalJoins": true,
		"lastActivityAt": true, "durationSeconds": false, "participantSeconds": false,
	},
	"RoomSettings": {
		"allowChat": true, "allowScreenShare": true, "allowGuestAccess": true, "waitingRoom": true,
		"muteParticipantsOnJoin": true, "maxParticipants": true, "allowParticipantVideo": true, "allowParticipantAudio": true,
	},
	// A participant's user's profile bumps the versions of the hosts of
	// the rooms they took part in.
	"Participant": {
		"id": true, "roomId": true, "userId": true, "user": true, "guestName": true, "displayName": true,
		"isActive": true, "isHost": true, "joinedAt": true, "leftAt": true,
	},
}

// versioned reports whether every field set selects (at any depth, through
// fragments, whatever @skip and @include decide) is covered by the
// viewer's answers version.
func versioned(set ast.SelectionSet) bool {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if sel.Name == "__typename" {
				continue
			}
			if sel.ObjectDefinition == nil || !versionedFields[sel.ObjectDefinition.Name][sel.Name] || !versioned(sel.SelectionSet) {
				return false
			}
		case *ast.InlineFragment:
			if !versioned(sel.SelectionSet) {
				return false
			}
		case *ast.FragmentSpread:
			if sel.Definition == nil || !versioned(sel.Definition.SelectionSet) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// serve answers a query over plain HTTP if it is one the cache may hold:
// from a current entry, or by executing it and keeping the answer when it
// has no errors. It reports false, having written nothing, for any other
// operation, for callers without a viewer (the executor then refuses them
// as it always does), and when the viewer's version cannot be known.
func (c *answerCache) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, opCtx *graphql.OperationContext, contentType string, body []byte, at *viewerAt) bool {
	if opCtx.Operation.Operation != ast.Query || !versioned(opCtx.Operation.SelectionSet) {
		return false
	}
	// Before the viewer's statement: a request that cannot be keyed costs
	// the cache nothing.
	request, ok := requestKey(opCtx)
	if !ok {
		return false
	}
	if at == nil {
		viewer, version, err := c.svc.ViewerVersion(ctx)
		if err != nil {
			return false
		}
		at = &viewerAt{viewer: viewer, version: version}
	}
	viewer, version := at.viewer, at.version
	key := respcache.Key{Edge: respcache.GraphQL, Viewer: viewer.ID, Request: request}
	// An answer that may not be kept is written once Answer has returned:
	// others may be waiting on this make, and not on this client's socket.
	var made, unkept *graphql.Response
	e, ok := c.store.Answer(key, version, func() ([]byte, bool) {
		responses, ctx := exec.DispatchOperation(ctx, opCtx)
		made = responses(ctx)
		if made == nil || len(made.Errors) > 0 || made.Data == nil {
			unkept = made
			return nil, false
		}
		pieces := responsePieces(made)
		return bytes.Join(pieces[:], nil), true
	})
	if !ok {
		writeResponse(w, http.StatusOK, unkept)
		return true
	}
	if len(body) <= knownRequestMaxBytes {
		c.known.Add(string(body), knownRequest{request: request, op: opCtx.Operation})
	}
	if made == nil {
		// The interceptors that name the operation ran for whoever made the
		// answer, not for this request.
		labelCachedAnswer(ctx, opCtx.Operation)
	}
	c.store.Write(w, r, respcache.GraphQL, e, contentType)
	return true
}

// requestKey is what an answer depends on in the request: the operation
// picked, the document, and the variables as coerced (defaults applied;
// encoding/json sorts map keys, so equal values make equal keys).
func requestKey(opCtx *graphql.OperationContext) (string, bool) {
	vars, err := json.Marshal(opCtx.Variables)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(opCtx.OperationName) + len(opCtx.RawQuery) + len(vars) + 2)
	b.WriteString(opCtx.OperationName)
	b.WriteByte(0)
	b.WriteString(opCtx.RawQuery)
	b.WriteByte(0)
	b.Write(vars)
	return b.String(), true
}
