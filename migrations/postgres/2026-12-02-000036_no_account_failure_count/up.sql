-- Wrong passwords are counted per account and address (login_failures, migration 35);
-- the account's own count is no longer kept.
ALTER TABLE users DROP COLUMN failed_attempts;
