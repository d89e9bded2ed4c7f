-- PostgreSQL only (its counter trigger changed); SQLite updates its counter row in place.
SELECT 1;
