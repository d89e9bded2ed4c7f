-- A manual score entry counts occurrences (points = the item's points × count) and names
-- its evidence: an attached file or the number of the document it rests on.
ALTER TABLE score_entries ADD COLUMN occurrences INTEGER NOT NULL DEFAULT 1;
ALTER TABLE score_entries ADD COLUMN evidence_ref TEXT;
