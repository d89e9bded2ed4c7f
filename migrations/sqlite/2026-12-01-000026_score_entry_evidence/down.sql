ALTER TABLE score_entries DROP COLUMN evidence_ref;
ALTER TABLE score_entries DROP COLUMN occurrences;
