DROP TABLE archive_prints;
DROP TABLE archive_counters;
DROP INDEX messages_archive_no;
ALTER TABLE message_events DROP COLUMN hash_sm3;
ALTER TABLE message_events DROP COLUMN hash;
ALTER TABLE messages DROP COLUMN retention;
ALTER TABLE messages DROP COLUMN archive_no;
