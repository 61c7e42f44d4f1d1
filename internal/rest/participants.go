package rest

// The routes on who is in a room: list them, join, leave.

import (
	"net/http"

	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/models"
)

// participantJSON is the legacy participant row with its user ({id,
// displayName, avatarUrl}, or null for a guest).
type participantJSON struct {
	ID        string          `json:"id"`
	RoomID    string          `json:"roomId"`
	UserID    *string         `json:"userId"`
	GuestName *string         `json:"guestName"`
	IsActive  bool            `json:"isActive"`
	IsHost    bool            `json:"isHost"`
	JoinedAt  string          `json:"joinedAt"`
	LeftAt    *string         `json:"leftAt"`
	User      *publicUserJSON `json:"user"`
}

func toParticipantJSON(p service.ParticipantWithUser) participantJSON {
	return participantJSON{
		ID:        p.ID,
		RoomID:    p.RoomID,
		UserID:    p.UserID,
		GuestName: p.GuestName,
		IsActive:  p.IsActive,
		IsHost:    p.IsHost,
		JoinedAt:  models.FormatTime(p.JoinedAt),
		LeftAt:    formatNullableTime(p.LeftAt),
		User:      toPublicUserJSON(p.User),
	}
}

// attendeeJSON is what anyone with a room's code sees of someone in it.
type attendeeJSON struct {
	ID          string  `json:"id"`
	DisplayName string  `json:"displayName"`
	AvatarURL   *string `json:"avatarUrl"`
	IsHost      bool    `json:"isHost"`
}

// joinJSON answers POST /rooms/:code/join.
type joinJSON struct {
	Participant      participantJSON `json:"participant"`
	ParticipantToken string          `json:"participantToken"`
}

// participants serves GET /rooms/:id/participants: who is in the room now,
// in join order, for the room's host and participants.
func (h *Handler) participants(w http.ResponseWriter, r *http.Request, roomID string) {
	present, err := h.svc.RoomParticipants(r.Context(), roomID, true)
	if err != nil {
		h.error(w, r, err)
		return
	}
	out := make([]participantJSON, len(present))
	for i, p := range present {
		out[i] = toParticipantJSON(p)
	}
	writeJSON(w, http.StatusOK, out)
}

// attendees serves GET /rooms/code/:code/participants to anyone with the
// code.
func (h *Handler) attendees(w http.ResponseWriter, r *http.Request) {
	present, err := h.svc.AttendeesByCode(r.Context(), r.PathValue("code"))
	if err != nil {
		h.error(w, r, err)
		return
	}
	out := make([]attendeeJSON, len(present))
	for i, a := range present {
		out[i] = attendeeJSON{ID: a.ID, DisplayName: a.DisplayName, AvatarURL: a.AvatarURL, IsHost: a.IsHost}
	}
	writeJSON(w, http.StatusOK, out)
}

// joinBody is POST /rooms/:code/join's optional body.
type joinBody struct {
	GuestName *string `json:"guestName"`
}

// join serves POST /rooms/:code/join, as GraphQL's joinRoom: a signed-in
// caller joins as themself, an anonymous one as the guest guestName.
func (h *Handler) join(w http.ResponseWriter, r *http.Request) {
	var in joinBody
	if err := decodeOptionalBody(w, r, &in); err != nil {
		h.error(w, r, err)
		return
	}
	ctx := r.Context()
	res, err := h.svc.JoinRoom(ctx, r.PathValue("code"), in.GuestName)
	if err != nil {
		h.error(w, r, err)
		return
	}
	withUser, err := h.svc.WithUsers(ctx, []*models.Participant{res.Participant})
	if err != nil {
		h.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, joinJSON{Participant: toParticipantJSON(withUser[0]), ParticipantToken: res.ParticipantToken})
}

// leave serves POST /rooms/participants/:id/leave, as GraphQL's leaveRoom:
// with the participant's token, its user's, or the room host's.
func (h *Handler) leave(w http.ResponseWriter, r *http.Request) {
	var none struct{} // the route takes no fields; {} or no body
	if err := decodeOptionalBody(w, r, &none); err != nil {
		h.error(w, r, err)
		return
	}
	ctx := r.Context()
	p, err := h.svc.LeaveRoom(ctx, r.PathValue("id"))
	if err != nil {
		h.error(w, r, err)
		return
	}
	withUser, err := h.svc.WithUsers(ctx, []*models.Participant{p})
	if err != nil {
		h.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, toParticipantJSON(withUser[0]))
}
