package rest

// The routes on one room: create it, look it up (by id or by code), change
// its settings, end it.

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/models"
)

// roomJSON is the legacy full room: the row, its host and its settings.
type roomJSON struct {
	ID        string          `json:"id"`
	Code      string          `json:"code"`
	Name      string          `json:"name"`
	HostID    string          `json:"hostId"`
	IsActive  bool            `json:"isActive"`
	IsLocked  bool            `json:"isLocked"`
	StartedAt *string         `json:"startedAt"`
	EndedAt   *string         `json:"endedAt"`
	CreatedAt string          `json:"createdAt"`
	UpdatedAt string          `json:"updatedAt"`
	Host      *publicUserJSON `json:"host"`
	Settings  *settingsJSON   `json:"settings"`
}

// settingsJSON is the legacy settings row. The two media toggles come last:
// the legacy client sends them, and reads back what it sent.
type settingsJSON struct {
	ID                     string `json:"id"`
	RoomID                 string `json:"roomId"`
	AllowChat              bool   `json:"allowChat"`
	AllowScreenShare       bool   `json:"allowScreenShare"`
	AllowGuestAccess       bool   `json:"allowGuestAccess"`
	WaitingRoom            bool   `json:"waitingRoom"`
	MuteParticipantsOnJoin bool   `json:"muteParticipantsOnJoin"`
	MaxParticipants        int    `json:"maxParticipants"`
	AllowParticipantVideo  bool   `json:"allowParticipantVideo"`
	AllowParticipantAudio  bool   `json:"allowParticipantAudio"`
}

// publicRoomJSON is what GET /rooms/code/:code shows anyone with the code.
type publicRoomJSON struct {
	ID       string          `json:"id"`
	Code     string          `json:"code"`
	Name     string          `json:"name"`
	IsActive bool            `json:"isActive"`
	IsLocked bool            `json:"isLocked"`
	Host     *publicUserJSON `json:"host"`
	Settings struct {
		WaitingRoom bool `json:"waitingRoom"`
	} `json:"settings"`
}

func formatNullableTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := models.FormatTime(*t)
	return &s
}

// createRoom serves POST /rooms.
func (h *Handler) createRoom(w http.ResponseWriter, r *http.Request) {
	if !h.signedIn(w, r) {
		return
	}
	var in service.CreateRoomInput
	if err := decodeOptionalBody(w, r, &in); err != nil {
		h.error(w, r, err)
		return
	}
	res, err := h.svc.CreateRoom(r.Context(), in)
	if err != nil {
		h.error(w, r, err)
		return
	}
	h.writeRoom(w, r, http.StatusCreated, res.Room, res.Settings)
}

// room serves GET /rooms/:id to the room's host and participants.
func (h *Handler) room(w http.ResponseWriter, r *http.Request) {
	room, err := h.svc.Room(r.Context(), r.PathValue("id"))
	if err != nil {
		h.error(w, r, err)
		return
	}
	h.writeRoom(w, r, http.StatusOK, room, nil)
}

// roomCodeOrParticipants serves GET /rooms/code/:code,
// GET /rooms/:id/participants and GET /rooms/:id/messages. ServeMux refuses to register both patterns,
// as both match /rooms/code/participants; like the legacy router, which
// tried the code route first, the code lookup wins there.
func (h *Handler) roomCodeOrParticipants(w http.ResponseWriter, r *http.Request) {
	ref, sub := r.PathValue("ref"), r.PathValue("sub")
	switch {
	case ref == "code":
		h.roomByCode(w, r, sub)
	case sub == "participants":
		h.participants(w, r, ref)
	case sub == "messages":
		h.messages(w, r, ref)
	default:
		h.notFound(w, r)
	}
}

// roomByCode serves GET /rooms/code/:code to anyone: the code is the
// invitation.
func (h *Handler) roomByCode(w http.ResponseWriter, r *http.Request, code string) {
	ctx := r.Context()
	room, err := h.svc.RoomByCode(ctx, code)
	if err != nil {
		h.error(w, r, err)
		return
	}
	settings, host, err := h.roomParts(ctx, room, nil)
	if err != nil {
		h.error(w, r, err)
		return
	}
	out := publicRoomJSON{
		ID: room.ID, Code: room.Code, Name: room.Name, IsActive: room.IsActive, IsLocked: room.IsLocked,
		Host: toPublicUserJSON(host),
	}
	out.Settings.WaitingRoom = settings.WaitingRoom
	writeJSON(w, http.StatusOK, out)
}

// updateSettings serves PATCH /rooms/:id/settings (host only) and answers
// the full room.
func (h *Handler) updateSettings(w http.ResponseWriter, r *http.Request) {
	if !h.signedIn(w, r) {
		return
	}
	var in service.UpdateRoomSettingsInput
	if err := decodeOptionalBody(w, r, &in); err != nil {
		h.error(w, r, err)
		return
	}
	res, err := h.svc.UpdateRoomSettings(r.Context(), r.PathValue("id"), in)
	if err != nil {
		h.error(w, r, err)
		return
	}
	h.writeRoom(w, r, http.StatusOK, res.Room, res.Settings)
}

// endRoom serves DELETE /rooms/:id (host only): the room ends, as with
// GraphQL's endRoom, and stays listed; the answer is the ended room.
func (h *Handler) endRoom(w http.ResponseWriter, r *http.Request) {
	room, err := h.svc.EndRoom(r.Context(), r.PathValue("id"))
	if err != nil {
		h.error(w, r, err)
		return
	}
	h.writeRoom(w, r, http.StatusOK, room, nil)
}

// writeRoom answers the full room, loading its settings (unless given) and
// its host.
func (h *Handler) writeRoom(w http.ResponseWriter, r *http.Request, status int, room *models.Room, settings *models.RoomSettings) {
	settings, host, err := h.roomParts(r.Context(), room, settings)
	if err != nil {
		h.error(w, r, err)
		return
	}
	writeJSON(w, status, roomJSON{
		ID:        room.ID,
		Code:      room.Code,
		Name:      room.Name,
		HostID:    room.HostID,
		IsActive:  room.IsActive,
		IsLocked:  room.IsLocked,
		StartedAt: formatNullableTime(room.StartedAt),
		EndedAt:   formatNullableTime(room.EndedAt),
		CreatedAt: models.FormatTime(room.CreatedAt),
		UpdatedAt: models.FormatTime(room.UpdatedAt),
		Host:      toPublicUserJSON(host),
		Settings: &settingsJSON{
			ID:                     settings.ID,
			RoomID:                 settings.RoomID,
			AllowChat:              settings.AllowChat,
			AllowScreenShare:       settings.AllowScreenShare,
			AllowGuestAccess:       settings.AllowGuestAccess,
			WaitingRoom:            settings.WaitingRoom,
			MuteParticipantsOnJoin: settings.MuteParticipantsOnJoin,
			MaxParticipants:        settings.MaxParticipants,
			AllowParticipantVideo:  settings.AllowParticipantVideo,
			AllowParticipantAudio:  settings.AllowParticipantAudio,
		},
	})
}

// roomParts loads a room's settings (unless given) and its host. When the
// caller hosts the room, the host is the request's already loaded viewer.
func (h *Handler) roomParts(ctx context.Context, room *models.Room, settings *models.RoomSettings) (*models.RoomSettings, *models.User, error) {
	if settings == nil {
		byRoom, err := h.svc.SettingsByRoomIDs(ctx, []string{room.ID})
		if err != nil {
			return nil, nil, err
		}
		if settings = byRoom[room.ID]; settings == nil {
			return nil, nil, fmt.Errorf("room %s has no settings row", room.ID)
		}
	}
	if service.ViewerID(ctx) == room.HostID {
		host, err := h.svc.Viewer(ctx)
		return settings, host, err
	}
	users, err := h.svc.UsersByIDs(ctx, []string{room.HostID})
	if err != nil {
		return nil, nil, err
	}
	return settings, users[room.HostID], nil
}
