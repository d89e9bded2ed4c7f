-- 重复件: a message marked as a repeat of an earlier one (并单), and the look-up of
-- earlier messages from the same 联系方式 at 登记.
ALTER TABLE messages ADD COLUMN duplicate_of INTEGER REFERENCES messages(id);
CREATE INDEX messages_duplicate_of ON messages(duplicate_of);
CREATE INDEX messages_contact ON messages(complainant_contact);
