-- Candidate for fast.sql: as lateral-caseleft.sql, the participant without
-- leftAt built by json_build_object instead of row_to_json over a sub-select.
SELECT (SELECT true FROM users WHERE id = $1),
       (SELECT coalesce(json_agg(x), '[]')
FROM (
  SELECT r.id, r.code, r.name, r.host_id AS "hostId", r.is_active AS "isActive", r.is_locked AS "isLocked",
         r.started_at AS "startedAt", r.ended_at AS "endedAt", r.created_at AS "createdAt", r.updated_at AS "updatedAt",
         s.settings, pa.participants
  FROM rooms r
  LEFT JOIN LATERAL (SELECT row_to_json(s) AS settings FROM (
           SELECT allow_chat AS "allowChat", allow_screen_share AS "allowScreenShare",
                  allow_guest_access AS "allowGuestAccess", waiting_room AS "waitingRoom",
                  mute_participants_on_join AS "muteParticipantsOnJoin", max_participants AS "maxParticipants"
           FROM room_settings WHERE room_id = r.id LIMIT 1) s) s ON true
  LEFT JOIN LATERAL (SELECT coalesce(json_agg(CASE WHEN p."leftAt" IS NULL
                                        THEN json_build_object('id', p.id, 'isActive', p."isActive", 'isHost', p."isHost", 'joinedAt', p."joinedAt")
                                        ELSE row_to_json(p) END), '[]') AS participants FROM (
                 SELECT id, is_active AS "isActive", is_host AS "isHost", joined_at AS "joinedAt", left_at AS "leftAt"
                 FROM participants WHERE room_id = r.id ORDER BY joined_at, id) p) pa ON true
  WHERE r.host_id = $1
  ORDER BY r.created_at DESC, r.id DESC
) x)
