-- Correlated subqueries per room (settings, participants), row_to_json over
-- aliased camelCase columns, json_agg; order from the subqueries' ORDER BY.
-- leftAt is null, not absent, before the participant leaves.
SELECT coalesce(json_agg(x), '[]')
FROM (
  SELECT r.id, r.code, r.name, r.host_id AS "hostId", r.is_active AS "isActive", r.is_locked AS "isLocked",
         r.started_at AS "startedAt", r.ended_at AS "endedAt", r.created_at AS "createdAt", r.updated_at AS "updatedAt",
         (SELECT row_to_json(s) FROM (
           SELECT allow_chat AS "allowChat", allow_screen_share AS "allowScreenShare",
                  allow_guest_access AS "allowGuestAccess", waiting_room AS "waitingRoom",
                  mute_participants_on_join AS "muteParticipantsOnJoin", max_participants AS "maxParticipants"
           FROM room_settings WHERE room_id = r.id LIMIT 1) s) AS settings,
         (SELECT coalesce(json_agg(p), '[]') FROM (
                 SELECT id, is_active AS "isActive", is_host AS "isHost", joined_at AS "joinedAt", left_at AS "leftAt"
                 FROM participants WHERE room_id = r.id ORDER BY joined_at, id) p) AS participants
  FROM rooms r
  WHERE r.host_id = $1
  ORDER BY r.created_at DESC, r.id DESC
) x
