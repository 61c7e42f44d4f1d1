-- As sub.sql in jsonb (to_jsonb, jsonb_agg). jsonb sorts each object's keys,
-- so this one does not even keep the contract's key order.
SELECT coalesce(jsonb_agg(to_jsonb(x)), '[]'::jsonb)
FROM (
  SELECT r.id, r.code, r.name, r.host_id AS "hostId", r.is_active AS "isActive", r.is_locked AS "isLocked",
         r.started_at AS "startedAt", r.ended_at AS "endedAt", r.created_at AS "createdAt", r.updated_at AS "updatedAt",
         (SELECT to_jsonb(s) FROM (
           SELECT allow_chat AS "allowChat", allow_screen_share AS "allowScreenShare",
                  allow_guest_access AS "allowGuestAccess", waiting_room AS "waitingRoom",
                  mute_participants_on_join AS "muteParticipantsOnJoin", max_participants AS "maxParticipants"
           FROM room_settings WHERE room_id = r.id LIMIT 1) s) AS settings,
         (SELECT coalesce(jsonb_agg(to_jsonb(p)), '[]'::jsonb) FROM (
                 SELECT id, is_active AS "isActive", is_host AS "isHost", joined_at AS "joinedAt", left_at AS "leftAt"
                 FROM participants WHERE room_id = r.id ORDER BY joined_at, id) p) AS participants
  FROM rooms r
  WHERE r.host_id = $1
  ORDER BY r.created_at DESC, r.id DESC
) x
