// Command refserver is the benchmark's reference: it answers
// GET /users/me/rooms with one hand-written SQL statement that builds the
// whole JSON document inside PostgreSQL (json_agg). It is the practical
// upper bound for that endpoint on a machine, and every figure of the real
// server is reported as a ratio to it. Not part of the product.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const roomsJSON = `
SELECT coalesce(json_agg(x.room ORDER BY x.created_at DESC, x.id DESC), '[]')::text
FROM (
  SELECT r.id, r.created_at, json_build_object(
    'id', r.id, 'code', r.code, 'name', r.name, 'hostId', r.host_id,
    'isActive', r.is_active, 'isLocked', r.is_locked,
    'startedAt', to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'endedAt', to_char(r.ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'createdAt', to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'updatedAt', to_char(r.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'settings', json_build_object(
      'allowChat', s.allow_chat, 'allowScreenShare', s.allow_screen_share,
      'allowGuestAccess', s.allow_guest_access, 'waitingRoom', s.waiting_room,
      'muteParticipantsOnJoin', s.mute_participants_on_join, 'maxParticipants', s.max_participants),
    'participants', (
      SELECT coalesce(json_agg(json_strip_nulls(json_build_object(
        'id', p.id, 'isActive', p.is_active, 'isHost', p.is_host,
        'joinedAt', to_char(p.joined_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'leftAt', to_char(p.left_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
        ORDER BY p.joined_at, p.id), '[]')
      FROM participants p WHERE p.room_id = r.id)
  ) AS room
  FROM rooms r JOIN room_settings s ON s.room_id = r.id
  WHERE r.host_id = $1
) x`

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	flag.Parse()
	dsn, secret := os.Getenv("DATABASE_URL"), os.Getenv("JWT_SECRET")
	if dsn == "" || secret == "" {
		log.Fatal("refserver: DATABASE_URL and JWT_SECRET are required")
	}
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		log.Fatal(err)
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	http.HandleFunc("GET /users/me/rooms", func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		var claims jwt.RegisteredClaims
		if !ok {
			http.Error(w, `{"statusCode":401,"message":"Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		if _, err := parser.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return []byte(secret), nil }); err != nil || claims.Subject == "" {
			http.Error(w, `{"statusCode":401,"message":"Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		var body string
		if err := pool.QueryRow(r.Context(), roomsJSON, claims.Subject).Scan(&body); err != nil {
			http.Error(w, fmt.Sprintf(`{"statusCode":500,"message":%q}`, err.Error()), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write([]byte(body))
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
