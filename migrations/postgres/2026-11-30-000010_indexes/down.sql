DROP INDEX message_events_action_at;
DROP INDEX messages_followed;
DROP INDEX messages_archived;
DROP INDEX messages_closed;
DROP INDEX messages_due;
DROP INDEX messages_posted;
