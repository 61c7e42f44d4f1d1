package rest

import (
	"net/http"

	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/models"
)

// userJSON is the legacy account shape.
type userJSON struct {
	ID          string  `json:"id"`
	Email       string  `json:"email"`
	Name        *string `json:"name"`
	DisplayName string  `json:"displayName"`
	AvatarURL   *string `json:"avatarUrl"`
	CreatedAt   string  `json:"createdAt"`
}

func toUserJSON(u *models.User) userJSON {
	return userJSON{
		ID:          u.ID,
		Email:       u.Email,
		Name:        u.Name,
		DisplayName: u.DisplayName,
		AvatarURL:   u.AvatarURL,
		CreatedAt:   models.FormatTime(u.CreatedAt),
	}
}

type authJSON struct {
	User        userJSON `json:"user"`
	AccessToken string   `json:"accessToken"`
}

func (h *Handler) register(w http.ResponseWriter, r *http.Request) {
	var in service.RegisterInput
	if err := decodeBody(w, r, &in); err != nil {
		h.error(w, r, err)
		return
	}
	res, err := h.svc.Register(r.Context(), in)
	if err != nil {
		h.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, authJSON{User: toUserJSON(res.User), AccessToken: res.AccessToken})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	var in service.LoginInput
	if err := decodeBody(w, r, &in); err != nil {
		h.error(w, r, err)
		return
	}
	res, err := h.svc.Login(r.Context(), in)
	if err != nil {
		h.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, authJSON{User: toUserJSON(res.User), AccessToken: res.AccessToken})
}

// authMe answers GET /auth/me: the signed-in account.
func (h *Handler) authMe(w http.ResponseWriter, r *http.Request) {
	u, err := h.svc.Viewer(r.Context())
	if err != nil {
		h.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
}
