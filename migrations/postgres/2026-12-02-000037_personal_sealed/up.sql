-- 反映人 and 联系方式 sealed at rest (SM4-GCM, done by the application: the key is not in
-- the database). Equality look-ups go through keyed digests (HMAC-SM3) beside them; the
-- indexes on the clear values go (the look-ups take the newest matches: by id). Rows
-- from before are sealed after start-up.
ALTER TABLE messages ADD COLUMN name_key TEXT;
ALTER TABLE messages ADD COLUMN contact_key TEXT;
DROP INDEX messages_complainant;
DROP INDEX messages_contact;
CREATE INDEX messages_name_key ON messages(name_key, id);
CREATE INDEX messages_contact_key ON messages(contact_key, id);
