-- PostgreSQL only (its search index changed); SQLite keeps its own.
SELECT 1;
