DROP INDEX messages_posted_stats;
DROP INDEX messages_closed_stats;
CREATE INDEX messages_posted_kinds ON messages(posted_at, category, source_platform, level, owner_unit_id, handling_unit_id, forwarded_unit_id);
