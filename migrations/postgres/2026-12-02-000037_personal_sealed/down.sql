DROP INDEX messages_contact_key;
DROP INDEX messages_name_key;
CREATE INDEX messages_contact ON messages(complainant_contact);
CREATE INDEX messages_complainant ON messages(complainant_name, posted_at);
ALTER TABLE messages DROP COLUMN contact_key;
ALTER TABLE messages DROP COLUMN name_key;
