-- SQLite only (its short-word index); PostgreSQL keeps its version numbers in step.
SELECT 1;
