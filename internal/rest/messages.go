package rest

import (
	"net/http"

	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/models"
)

// messageJSON is the legacy chat message.
type messageJSON struct {
	ID         string          `json:"id"`
	RoomID     string          `json:"roomId"`
	UserID     *string         `json:"userId"`
	SenderName *string         `json:"senderName"`
	Content    *string         `json:"content"`
	Type       string          `json:"type"`
	CreatedAt  string          `json:"createdAt"`
	User       *publicUserJSON `json:"user"`
}

// messages serves GET /rooms/:id/messages, as the legacy backend answered
// it: the room's oldest 100 messages, oldest first, to its host and
// participants. A room that does not exist, or that the caller may not
// see, is an empty chat, as the legacy route answered an unknown room:
// that reads the same as a room without messages, so it tells nobody
// which rooms exist.
func (h *Handler) messages(w http.ResponseWriter, r *http.Request, roomID string) {
	rows, users, err := h.svc.LegacyRoomMessages(r.Context(), roomID)
	if apperr.CodeOf(err) == apperr.NotFound {
		writeJSONBytes(w, http.StatusOK, []byte(`[]`))
		return
	}
	if err != nil {
		h.error(w, r, err)
		return
	}
	out := make([]messageJSON, len(rows))
	for i, m := range rows {
		out[i] = messageJSON{
			ID: m.ID, RoomID: m.RoomID, UserID: m.UserID, SenderName: m.SenderName, Content: m.Content,
			Type: string(m.Type), CreatedAt: models.FormatTime(m.CreatedAt),
		}
		if m.UserID != nil {
			out[i].User = toPublicUserJSON(users[*m.UserID])
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// serverRunning is the legacy root route (GET /api): a liveness line for
// people opening the API's address in a browser.
func (h *Handler) serverRunning(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("server running"))
}
