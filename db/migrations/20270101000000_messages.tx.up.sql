-- In-meeting chat. Portable DDL (PostgreSQL and SQLite).
-- A message's sender is its participant (participant_id) and that
-- participant's user (user_id), or only the room's host when it posts
-- without being in the room; SYSTEM messages have neither. sender_name is
-- the name shown when it was sent. A deleted message keeps its row, and its
-- place, with content NULL and deleted_at set.
CREATE TABLE messages (
    id             VARCHAR(30)  PRIMARY KEY,
    room_id        VARCHAR(30)  NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    participant_id VARCHAR(30)  REFERENCES participants (id) ON DELETE SET NULL,
    user_id        VARCHAR(30)  REFERENCES users (id) ON DELETE SET NULL,
    sender_name    VARCHAR(100),
    content        TEXT,
    type           VARCHAR(10)  NOT NULL,
    created_at     TIMESTAMPTZ  NOT NULL,
    deleted_at     TIMESTAMPTZ
);
--bun:split
-- Serves Room.messages (a batch of rooms' newest messages, paging back on
-- (created_at, id)) and the legacy route's oldest 100, read either way.
CREATE INDEX messages_room_created_idx ON messages (room_id, created_at, id);
