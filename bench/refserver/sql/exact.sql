-- Today's exact-format reference, unchanged: json_build_object per object,
-- to_char per timestamp, json_strip_nulls per participant; no viewer check.
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
) x
