DROP INDEX messages_contact;
DROP INDEX messages_duplicate_of;
ALTER TABLE messages DROP COLUMN duplicate_of;
