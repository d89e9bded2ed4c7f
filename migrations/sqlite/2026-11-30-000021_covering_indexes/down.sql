DROP INDEX messages_followed_stats;
CREATE INDEX messages_followed ON messages(followed_up_at);
DROP INDEX messages_accept_due_stats;
CREATE INDEX messages_accept_due ON messages(accept_due);
DROP INDEX messages_due_stats;
CREATE INDEX messages_due ON messages(due_at);
DROP INDEX messages_archived_stats;
CREATE INDEX messages_archived ON messages(archived_at);
