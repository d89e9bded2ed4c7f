-- Full-text search over 留言标题, 主要诉求, the reply and 反映人, kept up to date by the
-- application in the same transaction as the message: pg_trgm for words of three
-- characters or more, and the text split into single characters as a tsvector for one-
-- and two-character words (queried as phrases).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE message_search (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id),
    body TEXT NOT NULL,
    chars TSVECTOR NOT NULL
);
CREATE INDEX message_search_trgm ON message_search USING gin (body gin_trgm_ops);
CREATE INDEX message_search_chars ON message_search USING gin (chars);
