-- Portable DDL: SQLite drops a column (3.35+) that no index or constraint
-- names, as here.
ALTER TABLE room_settings DROP COLUMN allow_participant_audio;
--bun:split
ALTER TABLE room_settings DROP COLUMN allow_participant_video;
