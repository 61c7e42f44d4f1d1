-- The legacy web client sends allowParticipantVideo and allowParticipantAudio
-- with its room settings. Existing rooms keep today's behaviour: participants
-- may use their camera and microphone. Portable DDL (PostgreSQL and SQLite).
ALTER TABLE room_settings ADD COLUMN allow_participant_video BOOLEAN NOT NULL DEFAULT TRUE;
--bun:split
ALTER TABLE room_settings ADD COLUMN allow_participant_audio BOOLEAN NOT NULL DEFAULT TRUE;
