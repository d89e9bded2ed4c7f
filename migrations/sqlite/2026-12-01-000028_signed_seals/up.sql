-- Signed seals (SM2): one per message and one for the audit log, each a signed
-- statement of (what, count, head digest, content digest, global sequence number,
-- time); and the signed state of all seals (last global number, how many, the sum of
-- their numbers), so a seal replaced by an older one or removed is found. Written in the
-- same transaction as what they seal.
CREATE TABLE seals (
    subject TEXT NOT NULL,
    subject_id INTEGER NOT NULL,
    count BIGINT NOT NULL,
    head TEXT NOT NULL,
    content TEXT NOT NULL,
    gseq BIGINT NOT NULL,
    at TIMESTAMP NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (subject, subject_id)
);
CREATE TABLE seal_state (
    id INTEGER PRIMARY KEY NOT NULL,
    gseq BIGINT NOT NULL,
    seals BIGINT NOT NULL,
    gseq_sum BIGINT NOT NULL,
    at TIMESTAMP NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL
);
