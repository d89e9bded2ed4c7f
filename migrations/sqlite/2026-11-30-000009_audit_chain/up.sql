-- The audit trail becomes a hash chain: rows are written unsealed, then sealed in order
-- (seal_seq, hash = SHA-256 over the previous hash and the row). Only the seal may be
-- written, once; every other change is still refused.
ALTER TABLE audit_log ADD COLUMN seal_seq BIGINT;
ALTER TABLE audit_log ADD COLUMN hash TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX audit_log_seal ON audit_log(seal_seq);
DROP TRIGGER audit_log_no_update;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
WHEN OLD.hash <> '' OR OLD.seal_seq IS NOT NULL
  OR NEW.at IS NOT OLD.at OR NEW.user_id IS NOT OLD.user_id OR NEW.username IS NOT OLD.username
  OR NEW.unit_id IS NOT OLD.unit_id OR NEW.ip IS NOT OLD.ip OR NEW.event IS NOT OLD.event
  OR NEW.object IS NOT OLD.object OR NEW.result IS NOT OLD.result OR NEW.detail IS NOT OLD.detail
  OR NEW.id IS NOT OLD.id
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
