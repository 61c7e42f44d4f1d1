package graph

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/neuronmeet/api/models"
	"github.com/neuronmeet/api/service"
)

// Loader tuning. Parents prefetch their children's data whenever the
// selection asks for it (see prefetch.go), so the wait is a fallback for
// paths that were not prefetched: short enough not to matter for latency,
// long enough to gather one nesting level's sibling goroutines.
const (
	loaderWait     = 500 * time.Microsecond
	loaderMaxBatch = 500
)

// Loaders are the per-request dataloaders. They are built for each request
// and dropped with it: sharing them across requests would mix users' caches.
type Loaders struct {
	Settings     *dataloadgen.Loader[string, *models.RoomSettings]
	Participants *dataloadgen.Loader[string, []*models.Participant]
	Users        *dataloadgen.Loader[string, *models.User]

	mu          sync.Mutex
	cachedUsers map[string]struct{}
}

// NewLoaders returns fresh loaders over svc.
func NewLoaders(svc *service.Service) *Loaders {
	opts := []dataloadgen.Option{dataloadgen.WithWait(loaderWait), dataloadgen.WithBatchCapacity(loaderMaxBatch)}
	return &Loaders{
		Settings:     dataloadgen.NewMappedLoader(observed("settings", svc.SettingsByRoomIDs), opts...),
		Participants: dataloadgen.NewMappedLoader(observed("participants", svc.ParticipantsByRoomIDs), opts...),
		Users:        dataloadgen.NewMappedLoader(observed("users", svc.UsersByIDs), opts...),
		cachedUsers:  map[string]struct{}{},
	}
}

// PrimeUser caches u, replacing any cached copy (it is the newest).
func (l *Loaders) PrimeUser(u *models.User) {
	l.Users.Clear(u.ID)
	l.Users.Prime(u.ID, u)
	l.mu.Lock()
	l.cachedUsers[u.ID] = struct{}{}
	l.mu.Unlock()
}

// missingUsers filters ids down to users not cached yet, deduplicated.
func (l *Loaders) missingUsers(ids []string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := ids[:0]
	for _, id := range ids {
		if _, ok := l.cachedUsers[id]; !ok {
			l.cachedUsers[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}

// PrimeSettings caches s as its room's settings, replacing any cached copy.
func (l *Loaders) PrimeSettings(s *models.RoomSettings) {
	l.Settings.Clear(s.RoomID)
	l.Settings.Prime(s.RoomID, s)
}

type loadersKey struct{}

// LoadersMiddleware gives every request its own Loaders.
func LoadersMiddleware(svc *service.Service) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := context.WithValue(r.Context(), loadersKey{}, NewLoaders(svc))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// For returns the request's Loaders. It panics without LoadersMiddleware:
// that is a wiring bug, and silently building loaders here would hide it.
func For(ctx context.Context) *Loaders {
	return ctx.Value(loadersKey{}).(*Loaders)
}

// loadUser returns the user with id, or nil when it no longer exists.
func loadUser(ctx context.Context, id string) (*models.User, error) {
	u, err := For(ctx).Users.Load(ctx, id)
	if errors.Is(err, dataloadgen.ErrNotFound) {
		return nil, nil
	}
	return u, err
}

func loadHost(ctx context.Context, room *models.Room) (*models.User, error) {
	u, err := loadUser(ctx, room.HostID)
	if err == nil && u == nil {
		return nil, errors.New("room host missing")
	}
	return u, err
}
