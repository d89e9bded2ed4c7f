-- The audit trail becomes a hash chain: rows are written unsealed, then sealed in order
-- (seal_seq, hash = SHA-256 over the previous hash and the row). Only the seal may be
-- written, once; every other change is still refused.
ALTER TABLE audit_log ADD COLUMN seal_seq BIGINT;
ALTER TABLE audit_log ADD COLUMN hash TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX audit_log_seal ON audit_log(seal_seq);
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.hash = '' AND OLD.seal_seq IS NULL
     AND NEW.id = OLD.id AND NEW.at = OLD.at
     AND NEW.user_id IS NOT DISTINCT FROM OLD.user_id AND NEW.username = OLD.username
     AND NEW.unit_id IS NOT DISTINCT FROM OLD.unit_id AND NEW.ip = OLD.ip
     AND NEW.event = OLD.event AND NEW.object = OLD.object AND NEW.result = OLD.result
     AND NEW.detail = OLD.detail THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
