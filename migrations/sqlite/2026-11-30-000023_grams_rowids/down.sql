DROP TABLE messages_grams;
CREATE VIRTUAL TABLE messages_grams USING fts5(grams, tokenize = 'unicode61', prefix = '1', content = '', contentless_delete = 1);
