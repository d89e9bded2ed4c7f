-- Indexes for statistics, scoring and period queries on large databases.
CREATE INDEX messages_posted ON messages(posted_at);
CREATE INDEX messages_due ON messages(due_at);
CREATE INDEX messages_closed ON messages(closed_at);
CREATE INDEX messages_archived ON messages(archived_at);
CREATE INDEX messages_followed ON messages(followed_up_at);
CREATE INDEX message_events_action_at ON message_events(action, at);
