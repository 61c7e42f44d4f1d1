package rest

import (
	"net/http"

	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/models"
)

// profileJSON is the legacy GET /users/:id shape: email only for oneself
// (the key is absent for anyone else).
type profileJSON struct {
	ID          string  `json:"id"`
	Email       *string `json:"email,omitempty"`
	DisplayName string  `json:"displayName"`
	AvatarURL   *string `json:"avatarUrl"`
	CreatedAt   string  `json:"createdAt"`
}

// publicUserJSON is how a room shows its host and its participants' users.
type publicUserJSON struct {
	ID          string  `json:"id"`
	DisplayName string  `json:"displayName"`
	AvatarURL   *string `json:"avatarUrl"`
}

func toPublicUserJSON(u *models.User) *publicUserJSON {
	if u == nil {
		return nil
	}
	return &publicUserJSON{ID: u.ID, DisplayName: u.DisplayName, AvatarURL: u.AvatarURL}
}

// user serves GET /users/:id.
func (h *Handler) user(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u, err := h.svc.User(ctx, r.PathValue("id"))
	if err != nil {
		h.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, profileJSON{
		ID:          u.ID,
		Email:       service.VisibleEmail(ctx, u),
		DisplayName: u.DisplayName,
		AvatarURL:   u.AvatarURL,
		CreatedAt:   models.FormatTime(u.CreatedAt),
	})
}

// updateMe serves PATCH /users/me: displayName and avatarUrl (null clears
// it); keys left out stay as they are. It answers the account as
// GET /auth/me does.
func (h *Handler) updateMe(w http.ResponseWriter, r *http.Request) {
	if !h.signedIn(w, r) {
		return
	}
	var in service.UpdateProfileInput
	if err := decodeOptionalBody(w, r, &in); err != nil {
		h.error(w, r, err)
		return
	}
	u, err := h.svc.UpdateProfile(r.Context(), in)
	if err != nil {
		h.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
}
