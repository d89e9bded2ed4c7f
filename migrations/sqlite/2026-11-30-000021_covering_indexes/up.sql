-- Statistics and the scoreboard read a period's follow-ups (回访), the 签收 deadlines, the
-- reply deadlines and the 销号 falling in it: these indexes hold every column they need (and the
-- scope's), so the rows themselves are not read. They replace the plain indexes.
DROP INDEX messages_followed;
CREATE INDEX messages_followed_stats ON messages(followed_up_at, handling_unit_id, satisfaction, owner_unit_id, forwarded_unit_id);
DROP INDEX messages_accept_due;
CREATE INDEX messages_accept_due_stats ON messages(accept_due, handling_unit_id, state, accepted_at, due_at, replied_at);
DROP INDEX messages_due;
CREATE INDEX messages_due_stats ON messages(due_at, handling_unit_id, state, accept_due, accepted_at, replied_at);
DROP INDEX messages_archived;
CREATE INDEX messages_archived_stats ON messages(archived_at, state, handling_unit_id);
