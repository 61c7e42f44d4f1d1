package rest

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/respcache"
	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/models"
)

// myRooms serves GET /users/me/rooms exactly as the legacy contract
// documents it (../shared/contract): every hosted room, newest first, with
// settings and participants, keys in the documented order. The optional
// ?status=, ?limit= and ?after= narrow the list (see roomPage).
func (h *Handler) myRooms(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var page service.RoomPage
	if r.URL.RawQuery != "" { // the documented call has none: don't parse
		var err error
		if page, err = roomPage(r.URL.Query()); err != nil {
			// A bad token is refused before bad parameters.
			if _, verr := h.svc.Viewer(ctx); verr != nil {
				err = verr
			}
			h.error(w, r, err)
			return
		}
	}
	page.WithSettings = true // one statement for rooms and their settings
	if h.answers != nil {
		// On an error the viewer's lookup is remembered, refusal and all:
		// the uncached path below answers it without another statement.
		if viewer, version, err := h.svc.ViewerVersion(ctx); err == nil {
			h.myRoomsCached(w, r, viewer, version, page)
			return
		}
	}
	// The viewer's lookup and the rooms' statement share a round trip.
	_, rooms, err := h.svc.ViewerRooms(ctx, page)
	if err != nil {
		h.error(w, r, limitNotFirst(err))
		return
	}
	h.writeMyRooms(w, r, rooms)
}

// myRoomsCached is myRooms from the response cache: the answer made at the
// viewer's current answers version, or a new one, kept.
func (h *Handler) myRoomsCached(w http.ResponseWriter, r *http.Request, viewer *models.User, version int64, page service.RoomPage) {
	ctx := r.Context()
	key := respcache.Key{Edge: respcache.REST, Viewer: viewer.ID, Request: pageKey(page)}
	// A failure is written once Answer has returned: others may be waiting
	// on this make, and not on this client's socket.
	var failure error
	e, ok := h.answers.Answer(key, version, func() ([]byte, bool) {
		rooms, err := h.svc.HostedRooms(ctx, viewer.ID, page)
		if err != nil {
			failure = limitNotFirst(err)
			return nil, false
		}
		buf := getBuffer()
		defer putBuffer(buf)
		if *buf, failure = h.appendMyRooms((*buf)[:0], r, rooms); failure != nil {
			return nil, false
		}
		// The cache keeps the body: a copy of the exact size, not the pool's.
		return bytes.Clone(*buf), true
	})
	if !ok {
		h.error(w, r, failure)
		return
	}
	h.answers.Write(w, r, respcache.REST, e, jsonContentType)
}

// writeMyRooms writes the contract's answer for rooms.
func (h *Handler) writeMyRooms(w http.ResponseWriter, r *http.Request, rooms []*models.Room) {
	buf := getBuffer()
	defer putBuffer(buf)
	var err error
	if *buf, err = h.appendMyRooms((*buf)[:0], r, rooms); err != nil {
		h.error(w, r, err)
		return
	}
	writeJSONBytes(w, http.StatusOK, *buf)
}

// pageKey is the page as the response cache's request key: parameters
// that ask for the same page (or are ignored, as cache-busters are) share
// one entry.
func pageKey(page service.RoomPage) string {
	key := "status=" + string(page.Status)
	if page.First != nil {
		key += "&first=" + strconv.Itoa(*page.First)
	}
	if page.After != nil {
		key += "&after=" + *page.After
	}
	return key
}

// appendMyRooms appends the contract's answer for rooms: each with its
// settings (joined already) and participants (loaded in one statement).
func (h *Handler) appendMyRooms(b []byte, r *http.Request, rooms []*models.Room) ([]byte, error) {
	var participants map[string][]*models.Participant
	if len(rooms) > 0 {
		ids := make([]string, len(rooms))
		for i, room := range rooms {
			ids[i] = room.ID
		}
		var err error
		if participants, err = h.svc.ParticipantsByRoomIDs(r.Context(), ids); err != nil {
			return b, err
		}
	}
	return appendRooms(b, rooms, participants), nil
}

// roomPage maps the legacy query parameters onto the service's page:
// status=active|ended|all, limit (the page size, GraphQL's first) and
// after (the id of the last room of the previous page). Other parameters
// are ignored, as the legacy server ignored them (cache-busters).
func roomPage(q url.Values) (service.RoomPage, error) {
	var (
		page     service.RoomPage
		problems []*apperr.Error
	)
	if q.Has("status") {
		switch q.Get("status") {
		case "active":
			page.Status = service.RoomStatusActive
		case "ended":
			page.Status = service.RoomStatusEnded
		case "all":
			page.Status = service.RoomStatusAll
		default:
			problems = append(problems, apperr.Invalid("status", "status must be one of the following values: active, ended, all"))
		}
	}
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil {
			problems = append(problems, apperr.Invalid("limit", "limit must be an integer number"))
		}
		page.First = &n
	}
	if q.Has("after") {
		after := q.Get("after")
		page.After = &after
	}
	return page, apperr.Invalids(problems...)
}

// limitNotFirst names the page size as the REST query does: the service
// validates it under GraphQL's name, first.
func limitNotFirst(err error) error {
	if e, ok := apperr.As(err); ok && e.Field == "first" {
		return apperr.Invalid("limit", "limit"+strings.TrimPrefix(e.Message, "first"))
	}
	return err
}

// appendRooms writes the contract's room array.
func appendRooms(b []byte, rooms []*models.Room, participants map[string][]*models.Participant) []byte {
	b = append(b, '[')
	for i, room := range rooms {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendString(b, room.ID)
		b = append(b, `,"code":`...)
		b = appendString(b, room.Code)
		b = append(b, `,"name":`...)
		b = appendString(b, room.Name)
		b = append(b, `,"hostId":`...)
		b = appendString(b, room.HostID)
		b = append(b, `,"isActive":`...)
		b = appendBool(b, room.IsActive)
		b = append(b, `,"isLocked":`...)
		b = appendBool(b, room.IsLocked)
		b = append(b, `,"startedAt":`...)
		b = appendNullableTime(b, room.StartedAt)
		b = append(b, `,"endedAt":`...)
		b = appendNullableTime(b, room.EndedAt)
		b = append(b, `,"createdAt":`...)
		b = appendTime(b, room.CreatedAt)
		b = append(b, `,"updatedAt":`...)
		b = appendTime(b, room.UpdatedAt)
		b = append(b, `,"settings":`...)
		if s := room.JoinedSettings; s != nil {
			b = append(b, `{"allowChat":`...)
			b = appendBool(b, s.AllowChat)
			b = append(b, `,"allowScreenShare":`...)
			b = appendBool(b, s.AllowScreenShare)
			b = append(b, `,"allowGuestAccess":`...)
			b = appendBool(b, s.AllowGuestAccess)
			b = append(b, `,"waitingRoom":`...)
			b = appendBool(b, s.WaitingRoom)
			b = append(b, `,"muteParticipantsOnJoin":`...)
			b = appendBool(b, s.MuteParticipantsOnJoin)
			b = append(b, `,"maxParticipants":`...)
			b = strconv.AppendInt(b, int64(s.MaxParticipants), 10)
			b = append(b, '}')
		} else {
			b = append(b, "null"...)
		}
		b = append(b, `,"participants":[`...)
		for j, p := range participants[room.ID] {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = appendString(b, p.ID)
			b = append(b, `,"isActive":`...)
			b = appendBool(b, p.IsActive)
			b = append(b, `,"isHost":`...)
			b = appendBool(b, p.IsHost)
			b = append(b, `,"joinedAt":`...)
			b = appendTime(b, p.JoinedAt)
			// The legacy serializer dropped undefined keys: leftAt is absent,
			// not null, until the participant leaves.
			if p.LeftAt != nil {
				b = append(b, `,"leftAt":`...)
				b = appendTime(b, *p.LeftAt)
			}
			b = append(b, '}')
		}
		b = append(b, "]}"...)
	}
	return append(b, ']')
}

var bufferPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func getBuffer() *[]byte { return bufferPool.Get().(*[]byte) }

// putBuffer returns b for reuse. Buffers up to 8 MiB are kept: a host with
// a thousand rooms gets a ~1.3 MB answer, and growing a fresh buffer to that
// size cost more than the rest of the request's allocations together. The
// pool drops its buffers at garbage collections, so none is pinned for long.
func putBuffer(b *[]byte) {
	if cap(*b) <= 8<<20 {
		bufferPool.Put(b)
	}
}
