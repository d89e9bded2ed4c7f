-- The short-word index answers single tokens (a two-character word) and prefixes (one
-- character) only, never phrases of several tokens: it needs which messages hold a token,
-- not where (detail = none), and is a fifth smaller without the positions. Refilled by
-- the application like any index that is behind (at start-up, or in the background when
-- many messages are missing).
DROP TABLE messages_grams;
CREATE VIRTUAL TABLE messages_grams USING fts5(grams, tokenize = 'unicode61', prefix = '1', content = '', contentless_delete = 1, detail = none);
