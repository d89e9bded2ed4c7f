-- Full-text search over 留言标题, 主要诉求, the reply and 反映人 (rowid = messages.id),
-- kept up to date by the application in the same transaction as the message.
-- Trigram index: words of three characters or more.
CREATE VIRTUAL TABLE messages_fts USING fts5(body, tokenize = 'trigram');
-- The same text split into single characters: one- and two-character words, queried as
-- phrases, still through an index.
CREATE VIRTUAL TABLE messages_chars USING fts5(chars, tokenize = 'unicode61');
