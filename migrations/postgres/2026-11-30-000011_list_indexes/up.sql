-- The message list is ordered by id (newest first); with a filter on one of these
-- columns the index gives the order directly instead of sorting every match.
CREATE INDEX messages_state_id ON messages(state, id);
CREATE INDEX messages_category_id ON messages(category, id);
CREATE INDEX messages_handling_id ON messages(handling_unit_id, id);
