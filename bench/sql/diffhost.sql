-- The exact-bytes check's own host (bench/run.sh applies it on every run,
-- replacing the previous copy): rooms whose values exercise what an encoder
-- can get wrong, so the Go reference and the product are compared on more
-- than the benchmark's plain ASCII rows. Escapes (quotes, backslashes,
-- every kind of control character, non-ASCII, U+2028), sub-millisecond
-- timestamps (truncated, not rounded), dates before 2000 and before 1970,
-- a leap day, ties in createdAt and joinedAt (broken by id), a room without
-- participants, one without settings, one never started.
BEGIN;

DELETE FROM users WHERE id = 'cdiffhost0000000000000001'; -- cascades to its rooms

INSERT INTO users (id, email, password_hash, display_name, created_at, updated_at)
VALUES ('cdiffhost0000000000000001', 'diffhost@neuronmeet.dev',
        '$2a$10$benchbenchbenchbenchbOu1VZjyYmZ8bk1Cq8Ipp0iF0E8gUO3yS', 'Diff Host',
        timestamptz '2024-01-01 00:00:00+00', timestamptz '2024-01-01 00:00:00+00');

INSERT INTO rooms (id, code, name, host_id, is_active, is_locked, started_at, ended_at, created_at, updated_at) VALUES
  ('cdiffroom0000000000000001', 'xxx-aaa-aaa',
   E'Quote " back\\slash /slash tab\t nl\n cr\r bs\b ff\f ctl\x01\x1f\x7f <&> é ü 日本 😀 \u2028\u2029',
   'cdiffhost0000000000000001', TRUE, TRUE,
   timestamptz '2024-02-29 23:59:59.999999+00', NULL,
   timestamptz '2024-02-29 23:59:59.9995+00', timestamptz '2024-03-01 00:00:00.000001+00'),
  ('cdiffroom0000000000000002', 'xxx-aaa-aab', 'Never started, no participants',
   'cdiffhost0000000000000001', TRUE, FALSE,
   NULL, NULL,
   timestamptz '2024-02-29 23:59:59.9995+00', timestamptz '2024-02-29 23:59:59.9995+00'),
  ('cdiffroom0000000000000003', 'xxx-aaa-aac', 'No settings row',
   'cdiffhost0000000000000001', FALSE, FALSE,
   timestamptz '1999-12-31 23:59:59.1234+00', timestamptz '2000-01-01 00:00:00+00',
   timestamptz '1969-12-31 23:59:59.9999+00', timestamptz '1970-01-01 00:00:00.0001+00'),
  ('cdiffroom0000000000000004', 'xxx-aaa-aad', '',
   'cdiffhost0000000000000001', FALSE, TRUE,
   timestamptz '2038-01-19 03:14:08.5+00', timestamptz '2099-12-31 23:59:59.999+00',
   timestamptz '1900-03-01 12:00:00+00', timestamptz '2100-02-28 00:00:00+00');

INSERT INTO room_settings (id, room_id, allow_chat, allow_screen_share, allow_guest_access, waiting_room, mute_participants_on_join, max_participants) VALUES
  ('cdiffsett0000000000000001', 'cdiffroom0000000000000001', FALSE, TRUE, FALSE, TRUE, TRUE, 2147483647),
  ('cdiffsett0000000000000002', 'cdiffroom0000000000000002', TRUE, FALSE, TRUE, FALSE, FALSE, 0),
  ('cdiffsett0000000000000004', 'cdiffroom0000000000000004', TRUE, TRUE, TRUE, TRUE, TRUE, -1);

INSERT INTO participants (id, room_id, user_id, guest_name, is_active, is_host, joined_at, left_at) VALUES
  ('cdiffpart0000000000000003', 'cdiffroom0000000000000001', 'cdiffhost0000000000000001', NULL, TRUE, TRUE,
   timestamptz '2024-02-29 23:59:59.999999+00', NULL),
  ('cdiffpart0000000000000002', 'cdiffroom0000000000000001', NULL, E'Guest "\\ \t 😀', FALSE, FALSE,
   timestamptz '2024-02-29 23:59:59.999999+00', timestamptz '2024-03-01 00:00:00.0009+00'),
  ('cdiffpart0000000000000001', 'cdiffroom0000000000000001', NULL, 'Early', TRUE, FALSE,
   timestamptz '2024-02-29 23:00:00+00', NULL),
  ('cdiffpart0000000000000004', 'cdiffroom0000000000000003', NULL, 'Old', FALSE, FALSE,
   timestamptz '1969-12-31 23:59:59.9995+00', timestamptz '1970-01-01 00:00:00.0005+00'),
  ('cdiffpart0000000000000005', 'cdiffroom0000000000000004', NULL, 'Far', FALSE, FALSE,
   timestamptz '1900-03-01 12:00:00.001+00', timestamptz '2100-02-28 23:59:59.999+00');

COMMIT;
