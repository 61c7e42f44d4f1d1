-- Undoes the initial schema, and with it every row: for development
-- databases (`migrate rollback`). Children first, so no foreign key is left
-- pointing at a dropped table; indexes go with their tables. Portable DDL.
DROP TABLE participants;
--bun:split
DROP TABLE room_settings;
--bun:split
DROP TABLE rooms;
--bun:split
DROP TABLE users;
