ALTER TABLE message_search RESET (toast_tuple_target);
DROP INDEX message_search_unfilled;
DROP INDEX message_search_grams;
ALTER TABLE message_search DROP COLUMN grams;
ALTER TABLE message_search ADD COLUMN chars TSVECTOR NOT NULL DEFAULT ''::tsvector;
CREATE INDEX message_search_trgm ON message_search USING gin (body gin_trgm_ops);
CREATE INDEX message_search_chars ON message_search USING gin (chars);
