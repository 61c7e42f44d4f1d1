-- Portable DDL: PostgreSQL and SQLite both accept every statement below.
-- Timestamps are TIMESTAMPTZ on PostgreSQL; SQLite stores bun's UTC text,
-- which sorts chronologically because every value is written in UTC.
CREATE TABLE users (
    id            VARCHAR(30)  PRIMARY KEY,
    email         VARCHAR(320) NOT NULL,
    password_hash VARCHAR(100) NOT NULL,
    name          VARCHAR(100),
    display_name  VARCHAR(100) NOT NULL,
    avatar_url    VARCHAR(2048),
    created_at    TIMESTAMPTZ  NOT NULL,
    updated_at    TIMESTAMPTZ  NOT NULL
);
--bun:split
CREATE UNIQUE INDEX users_email_key ON users (email);
--bun:split
CREATE TABLE rooms (
    id         VARCHAR(30)  PRIMARY KEY,
    code       VARCHAR(11)  NOT NULL,
    name       VARCHAR(100) NOT NULL,
    host_id    VARCHAR(30)  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    is_active  BOOLEAN      NOT NULL DEFAULT TRUE,
    is_locked  BOOLEAN      NOT NULL DEFAULT FALSE,
    started_at TIMESTAMPTZ,
    ended_at   TIMESTAMPTZ,
    created_at TIMESTAMPTZ  NOT NULL,
    updated_at TIMESTAMPTZ  NOT NULL
);
--bun:split
CREATE UNIQUE INDEX rooms_code_key ON rooms (code);
--bun:split
-- Serves me.rooms: a host's rooms newest first, keyset-paginated on (created_at, id).
CREATE INDEX rooms_host_created_idx ON rooms (host_id, created_at DESC, id DESC);
--bun:split
CREATE TABLE room_settings (
    id                        VARCHAR(30) PRIMARY KEY,
    room_id                   VARCHAR(30) NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    allow_chat                BOOLEAN     NOT NULL DEFAULT TRUE,
    allow_screen_share        BOOLEAN     NOT NULL DEFAULT TRUE,
    allow_guest_access        BOOLEAN     NOT NULL DEFAULT TRUE,
    waiting_room              BOOLEAN     NOT NULL DEFAULT FALSE,
    mute_participants_on_join BOOLEAN     NOT NULL DEFAULT FALSE,
    max_participants          INTEGER     NOT NULL DEFAULT 50
);
--bun:split
CREATE UNIQUE INDEX room_settings_room_id_key ON room_settings (room_id);
--bun:split
CREATE TABLE participants (
    id         VARCHAR(30) PRIMARY KEY,
    room_id    VARCHAR(30) NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id    VARCHAR(30) REFERENCES users (id) ON DELETE CASCADE,
    guest_name VARCHAR(100),
    is_active  BOOLEAN     NOT NULL DEFAULT TRUE,
    is_host    BOOLEAN     NOT NULL DEFAULT FALSE,
    joined_at  TIMESTAMPTZ NOT NULL,
    left_at    TIMESTAMPTZ
);
--bun:split
-- Serves Room.participants: a batch of rooms' participants in join order.
CREATE INDEX participants_room_joined_idx ON participants (room_id, joined_at, id);
--bun:split
-- A user is present in a room at most once; a second join returns the first.
CREATE UNIQUE INDEX participants_active_user_key ON participants (room_id, user_id) WHERE is_active AND user_id IS NOT NULL;
--bun:split
CREATE INDEX participants_user_idx ON participants (user_id);
