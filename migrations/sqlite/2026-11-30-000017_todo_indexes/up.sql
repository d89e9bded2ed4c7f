-- 待办: a unit's waiting items by owner or handler and state, most urgent first, read
-- from the index alone (a city centre may have tens of thousands waiting).
CREATE INDEX messages_owner_todo ON messages(owner_unit_id, state, supervision_level, due_at, extension_requested_days);
CREATE INDEX messages_handling_todo ON messages(handling_unit_id, state, supervision_level, due_at);
-- The list's exact count (up to 1,000) for a category within a state, from the index.
CREATE INDEX messages_category_state ON messages(category, state, id);
