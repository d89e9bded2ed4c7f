DROP TABLE messages_chars;
DROP TABLE messages_fts;
