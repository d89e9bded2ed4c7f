ALTER TABLE messages DROP COLUMN no_reopen_at;
ALTER TABLE messages DROP COLUMN forward_accepted_at;
