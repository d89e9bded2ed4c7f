-- SQLite only (its short-word index changed); PostgreSQL keeps its own.
SELECT 1;
