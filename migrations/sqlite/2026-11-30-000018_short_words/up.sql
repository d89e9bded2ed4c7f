-- Short words: the single-character table (a two-character word was a phrase of two of
-- the commonest tokens, slow on a large site) gives way to one of character pairs, where
-- such a word is a single token and one character a prefix ('1'). Contentless: the text
-- lives in messages. Filled by the application (at start-up, or in the background when
-- many messages are missing).
DROP TABLE messages_chars;
CREATE VIRTUAL TABLE messages_grams USING fts5(grams, tokenize = 'unicode61', prefix = '1', content = '', contentless_delete = 1);
