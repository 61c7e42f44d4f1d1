-- As sub.sql, with settings and participants as LEFT JOIN LATERAL.
SELECT coalesce(json_agg(x), '[]')
FROM (
  SELECT r.id, r.code, r.name, r.host_id AS "hostId", r.is_active AS "isActive", r.is_locked AS "isLocked",
         r.started_at AS "startedAt", r.ended_at AS "endedAt", r.created_at AS "createdAt", r.updated_at AS "updatedAt", s.settings, pa.participants
  FROM rooms r
  LEFT JOIN LATERAL (SELECT row_to_json(s) AS settings FROM (
           SELECT allow_chat AS "allowChat", allow_screen_share AS "allowScreenShare",
                  allow_guest_access AS "allowGuestAccess", waiting_room AS "waitingRoom",
                  mute_participants_on_join AS "muteParticipantsOnJoin", max_participants AS "maxParticipants"
           FROM room_settings WHERE room_id = r.id LIMIT 1) s) s ON true
  LEFT JOIN LATERAL (SELECT coalesce(json_agg(p), '[]') AS participants FROM (
                 SELECT id, is_active AS "isActive", is_host AS "isHost", joined_at AS "joinedAt", left_at AS "leftAt"
                 FROM participants WHERE room_id = r.id ORDER BY joined_at, id) p) pa ON true
  WHERE r.host_id = $1
  ORDER BY r.created_at DESC, r.id DESC
) x
