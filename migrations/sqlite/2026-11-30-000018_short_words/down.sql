DROP TABLE messages_grams;
CREATE VIRTUAL TABLE messages_chars USING fts5(chars, tokenize = 'unicode61');
