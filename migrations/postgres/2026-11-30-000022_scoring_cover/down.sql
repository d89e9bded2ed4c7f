DROP INDEX messages_state_closed;
CREATE INDEX message_events_action_at ON message_events(action, at);
DROP INDEX message_events_action_cover;
