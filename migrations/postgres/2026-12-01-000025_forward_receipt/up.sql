-- A county sub-unit's 签收 of a message forwarded to it (下转签收), and the owner's
-- recorded decision not to 重办 a message the citizen was 不满意 with (不再重办).
ALTER TABLE messages ADD COLUMN forward_accepted_at TIMESTAMP;
ALTER TABLE messages ADD COLUMN no_reopen_at TIMESTAMP;
