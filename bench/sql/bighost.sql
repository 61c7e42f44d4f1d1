-- A host with 1,000 rooms (8 participants each: the host, 3 users, 4 guests),
-- for the scale checks: the REST answer must grow linearly, and the first
-- page of me.rooms(first: 50) must cost what a 50-room host's answer costs.
BEGIN;
-- Generated rows need no answers versions (db/migrations' triggers would
-- update a user row per participant inserted): replica mode skips the
-- triggers for this transaction. Every version stays 0, a valid one.
SET LOCAL session_replication_role = replica;

INSERT INTO users (id, email, password_hash, display_name, created_at, updated_at)
VALUES ('cbighost00000000000000001', 'bighost@neuronmeet.dev',
        '$2a$10$benchbenchbenchbenchbOu1VZjyYmZ8bk1Cq8Ipp0iF0E8gUO3yS', 'Big Host',
        timestamptz '2024-01-01 00:00:00+00', timestamptz '2024-01-01 00:00:00+00');

-- last_activity_at is written here: replica mode also skips the trigger
-- that gives a plain-SQL room its creation time.
INSERT INTO rooms (id, code, name, host_id, is_active, is_locked, started_at, ended_at, created_at, updated_at, last_activity_at)
SELECT 'cbigroom' || lpad(g::text, 17, '0'),
       'yyy-' || chr(97 + g / 676 % 26) || chr(97 + g / 26 % 26) || chr(97 + g % 26) || '-yyy',
       'Big Room ' || g,
       'cbighost00000000000000001',
       g % 5 <> 0, FALSE,
       timestamptz '2024-03-01 10:00:00+00' + g * interval '1 hour',
       CASE WHEN g % 5 = 0 THEN timestamptz '2024-03-01 10:45:00+00' + g * interval '1 hour' END,
       timestamptz '2024-03-01 09:55:00+00' + g * interval '1 hour',
       timestamptz '2024-03-01 10:00:00+00' + g * interval '1 hour',
       timestamptz '2024-03-01 09:55:00+00' + g * interval '1 hour'
FROM generate_series(1, 1000) AS g;

INSERT INTO room_settings (id, room_id, allow_chat, allow_screen_share, allow_guest_access, waiting_room, mute_participants_on_join, max_participants)
SELECT 'cbigsett' || lpad(g::text, 17, '0'), 'cbigroom' || lpad(g::text, 17, '0'),
       TRUE, TRUE, TRUE, FALSE, FALSE, 20
FROM generate_series(1, 1000) AS g;

INSERT INTO participants (id, room_id, user_id, guest_name, is_active, is_host, joined_at, left_at)
SELECT 'cbigpart' || lpad((g * 10 + k)::text, 17, '0'),
       'cbigroom' || lpad(g::text, 17, '0'),
       CASE WHEN k = 0 THEN 'cbighost00000000000000001'
            WHEN k <= 3 THEN 'cbenchuser' || lpad((1 + (g * 3 + k) % 40)::text, 15, '0') END,
       CASE WHEN k > 3 THEN 'Big Guest ' || k END,
       g % 5 <> 0 AND k <> 5,
       k = 0,
       timestamptz '2024-03-01 10:00:00+00' + g * interval '1 hour' + k * interval '1 minute',
       CASE WHEN g % 5 = 0 THEN timestamptz '2024-03-01 10:45:00+00' + g * interval '1 hour'
            WHEN k = 5 THEN timestamptz '2024-03-01 10:30:00+00' + g * interval '1 hour' END
FROM generate_series(1, 1000) AS g
CROSS JOIN generate_series(0, 7) AS k;

COMMIT;
ANALYZE;
