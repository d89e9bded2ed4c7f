-- Statistics and the dashboard read a period's received and closed messages: these
-- indexes hold every column they need (and the scope's), so the rows themselves are not
-- read. The first replaces the dashboard's narrower index of the year's kinds.
DROP INDEX messages_posted_kinds;
CREATE INDEX messages_posted_stats ON messages(posted_at, category, source_platform, level, handling_unit_id, state, due_at, replied_at, owner_unit_id, forwarded_unit_id);
CREATE INDEX messages_closed_stats ON messages(closed_at, handling_unit_id, assigned_at, replied_at, due_at, resolved, owner_unit_id, forwarded_unit_id);
