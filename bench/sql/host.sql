-- The benchmark host (bench@neuronmeet.dev): 50 rooms with 8 participants each
-- (the host, 4 users, 3 guests; 2 of them have left; every 5th room has ended).
-- Self-contained, so Go benchmarks can load it into an empty database.
BEGIN;

INSERT INTO users (id, email, password_hash, display_name, created_at, updated_at)
VALUES ('cbenchhost000000000000001', 'bench@neuronmeet.dev',
        '$2a$10$benchbenchbenchbenchbOu1VZjyYmZ8bk1Cq8Ipp0iF0E8gUO3yS', 'Bench Host',
        timestamptz '2024-01-01 00:00:00+00', timestamptz '2024-01-01 00:00:00+00');

INSERT INTO users (id, email, password_hash, display_name, created_at, updated_at)
SELECT 'cbenchuser' || lpad(g::text, 15, '0'), 'benchuser' || g || '@neuronmeet.dev',
       '$2a$10$benchbenchbenchbenchbOu1VZjyYmZ8bk1Cq8Ipp0iF0E8gUO3yS', 'Bench User ' || g,
       timestamptz '2024-01-01 00:00:00+00', timestamptz '2024-01-01 00:00:00+00'
FROM generate_series(1, 40) AS g;

INSERT INTO rooms (id, code, name, host_id, is_active, is_locked, started_at, ended_at, created_at, updated_at)
SELECT 'cbenchroom' || lpad(g::text, 15, '0'),
       'zzz-zzz-' || chr(97 + g / 26) || chr(97 + g % 26) || 'z',
       'Bench Room ' || g,
       'cbenchhost000000000000001',
       g % 5 <> 0, g % 7 = 0,
       timestamptz '2024-03-01 10:00:00+00' + g * interval '1 hour',
       CASE WHEN g % 5 = 0 THEN timestamptz '2024-03-01 10:45:00+00' + g * interval '1 hour' END,
       timestamptz '2024-03-01 09:55:00+00' + g * interval '1 hour',
       timestamptz '2024-03-01 10:00:00+00' + g * interval '1 hour'
FROM generate_series(1, 50) AS g;

INSERT INTO room_settings (id, room_id, allow_chat, allow_screen_share, allow_guest_access, waiting_room, mute_participants_on_join, max_participants)
SELECT 'cbenchsett' || lpad(g::text, 15, '0'), 'cbenchroom' || lpad(g::text, 15, '0'),
       TRUE, TRUE, g % 2 = 0, g % 3 = 0, FALSE, 20
FROM generate_series(1, 50) AS g;

INSERT INTO participants (id, room_id, user_id, guest_name, is_active, is_host, joined_at, left_at)
SELECT 'cbenchpart' || lpad((g * 10 + k)::text, 15, '0'),
       'cbenchroom' || lpad(g::text, 15, '0'),
       CASE WHEN k = 0 THEN 'cbenchhost000000000000001'
            WHEN k <= 4 THEN 'cbenchuser' || lpad((1 + (g * 4 + k) % 40)::text, 15, '0') END,
       CASE WHEN k > 4 THEN 'Bench Guest ' || k END,
       g % 5 <> 0 AND k NOT IN (3, 6),
       k = 0,
       timestamptz '2024-03-01 10:00:00+00' + g * interval '1 hour' + k * interval '1 minute',
       CASE WHEN g % 5 = 0 THEN timestamptz '2024-03-01 10:45:00+00' + g * interval '1 hour'
            WHEN k IN (3, 6) THEN timestamptz '2024-03-01 10:30:00+00' + g * interval '1 hour' END
FROM generate_series(1, 50) AS g
CROSS JOIN generate_series(0, 7) AS k;

COMMIT;
ANALYZE;
