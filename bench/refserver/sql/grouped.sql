-- Participants of all the host's rooms aggregated by one grouped subquery,
-- joined to the rooms.
SELECT coalesce(json_agg(x), '[]')
FROM (
  SELECT r.id, r.code, r.name, r.host_id AS "hostId", r.is_active AS "isActive", r.is_locked AS "isLocked",
         r.started_at AS "startedAt", r.ended_at AS "endedAt", r.created_at AS "createdAt", r.updated_at AS "updatedAt",
         (SELECT row_to_json(s) FROM (
           SELECT allow_chat AS "allowChat", allow_screen_share AS "allowScreenShare",
                  allow_guest_access AS "allowGuestAccess", waiting_room AS "waitingRoom",
                  mute_participants_on_join AS "muteParticipantsOnJoin", max_participants AS "maxParticipants"
           FROM room_settings WHERE room_id = r.id LIMIT 1) s) AS settings,
         coalesce(pa.participants, '[]') AS participants
  FROM rooms r
  LEFT JOIN (
    SELECT q.room_id, json_agg(row_to_json((SELECT j FROM (
                      SELECT q.id, q.is_active AS "isActive", q.is_host AS "isHost",
                             q.joined_at AS "joinedAt", q.left_at AS "leftAt") j))
                    ORDER BY q.joined_at, q.id) AS participants
    FROM participants q
    WHERE q.room_id = ANY (ARRAY(SELECT id FROM rooms WHERE host_id = $1))
    GROUP BY q.room_id) pa ON pa.room_id = r.id
  WHERE r.host_id = $1
  ORDER BY r.created_at DESC, r.id DESC
) x
