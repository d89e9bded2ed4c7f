REVOKE UPDATE (seal_seq, hash) ON audit_log FROM CURRENT_USER;
GRANT UPDATE, DELETE, TRUNCATE ON audit_log, message_events, attachments TO CURRENT_USER;
DROP INDEX attachments_uploaded_by;
