-- SQLite only (long text moved to the end of the row); PostgreSQL keeps long text
-- out of the row already (TOAST).
SELECT 1;
