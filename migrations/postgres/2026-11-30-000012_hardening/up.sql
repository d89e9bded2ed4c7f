-- Each unit's attachment quota sums its users' uploads.
CREATE INDEX attachments_uploaded_by ON attachments(uploaded_by);
-- The append-only tables: beyond the triggers, the application's database role loses
-- the privilege to change or remove rows, TRUNCATE included (row triggers do not see
-- it). The audit trail keeps only the right to write its seal, once (the trigger checks).
-- A superuser bypasses privileges: run the application as an ordinary role (README).
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, message_events, attachments FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, message_events, attachments FROM CURRENT_USER;
GRANT UPDATE (seal_seq, hash) ON audit_log TO CURRENT_USER;
