-- The dashboard's breakdowns of the year (category, platform, level) within a scope,
-- read from this index alone.
CREATE INDEX messages_posted_kinds ON messages(posted_at, category, source_platform, level, owner_unit_id, handling_unit_id, forwarded_unit_id);
