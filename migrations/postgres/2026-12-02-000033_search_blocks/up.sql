-- Search by character pairs in blocks of message ids (src/search.rs): the pairs replace
-- the single characters and the trigrams. Entries written before are filled in by the
-- application at start-up (`search::rebuild_if_needed`).
DROP INDEX message_search_trgm;
DROP INDEX message_search_chars;
ALTER TABLE message_search DROP COLUMN chars;
ALTER TABLE message_search ADD COLUMN grams TSVECTOR;
CREATE INDEX message_search_grams ON message_search USING gin (grams);
-- The entries still to fill, found at start-up without reading the table.
CREATE INDEX message_search_unfilled ON message_search (message_id) WHERE grams IS NULL;
-- The long values (the text, the pairs) live out of line, so that a search's row look-ups
-- read a few dense pages instead of one page per match.
ALTER TABLE message_search SET (toast_tuple_target = 128);
