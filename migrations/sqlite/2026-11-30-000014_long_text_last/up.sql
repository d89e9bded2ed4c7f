-- SQLite reads a row's columns in order, and a row longer than a page continues in
-- overflow pages: with 主要诉求 (up to 9,000 characters) in the middle, every look at
-- state, unit or dates behind it (filters, counts, statistics) read those pages too.
-- The table is rebuilt with the short columns first and the long texts last (the usual
-- SQLite procedure: foreign keys off, copy, swap, check, on). Diesel names every column,
-- so their order matters to nothing else. PostgreSQL keeps long text out of the row
-- (TOAST) and needs nothing.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE messages_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    ref_no TEXT NOT NULL UNIQUE,
    owner_unit_id INTEGER NOT NULL REFERENCES units(id),
    handling_unit_id INTEGER REFERENCES units(id),
    forwarded_unit_id INTEGER REFERENCES units(id),
    state TEXT NOT NULL,
    version INTEGER NOT NULL,
    level TEXT NOT NULL,
    source_platform TEXT NOT NULL,
    category TEXT NOT NULL,
    platform_ref TEXT,
    posted_at TIMESTAMP NOT NULL,
    registered_at TIMESTAMP NOT NULL,
    assigned_at TIMESTAMP,
    accept_due DATE,
    accepted_at TIMESTAMP,
    due_at DATE,
    extension_days INTEGER NOT NULL DEFAULT 0,
    extension_requested_days INTEGER,
    proposed_resolved BOOLEAN,
    replied_at TIMESTAMP,
    resolved BOOLEAN,
    closed_at TIMESTAMP,
    followup_due DATE,
    satisfaction TEXT,
    followed_up_at TIMESTAMP,
    report_ref_no TEXT,
    reported_at TIMESTAMP,
    archived_at TIMESTAMP,
    supervision_level TEXT,
    supervision_due DATE,
    updated_at TIMESTAMP NOT NULL,
    archive_no TEXT,
    retention TEXT,
    complainant_name TEXT NOT NULL,
    complainant_contact TEXT NOT NULL,
    title TEXT NOT NULL,
    evaluation TEXT,
    draft_reply TEXT,
    handling_summary TEXT,
    appeal TEXT NOT NULL
);
INSERT INTO messages_new (id, ref_no, owner_unit_id, handling_unit_id, forwarded_unit_id, state, version, level, source_platform, category, platform_ref, posted_at, registered_at, assigned_at, accept_due, accepted_at, due_at, extension_days, extension_requested_days, proposed_resolved, replied_at, resolved, closed_at, followup_due, satisfaction, followed_up_at, report_ref_no, reported_at, archived_at, supervision_level, supervision_due, updated_at, archive_no, retention, complainant_name, complainant_contact, title, evaluation, draft_reply, handling_summary, appeal)
SELECT id, ref_no, owner_unit_id, handling_unit_id, forwarded_unit_id, state, version, level, source_platform, category, platform_ref, posted_at, registered_at, assigned_at, accept_due, accepted_at, due_at, extension_days, extension_requested_days, proposed_resolved, replied_at, resolved, closed_at, followup_due, satisfaction, followed_up_at, report_ref_no, reported_at, archived_at, supervision_level, supervision_due, updated_at, archive_no, retention, complainant_name, complainant_contact, title, evaluation, draft_reply, handling_summary, appeal FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE INDEX messages_state ON messages(state, due_at);
CREATE INDEX messages_handling ON messages(handling_unit_id, state);
CREATE INDEX messages_forwarded ON messages(forwarded_unit_id);
CREATE INDEX messages_owner ON messages(owner_unit_id, state);
CREATE INDEX messages_registered ON messages(registered_at);
CREATE INDEX messages_complainant ON messages(complainant_name, posted_at);
CREATE INDEX messages_platform_ref ON messages(platform_ref);
CREATE UNIQUE INDEX messages_archive_no ON messages(archive_no);
CREATE INDEX messages_posted ON messages(posted_at);
CREATE INDEX messages_due ON messages(due_at);
CREATE INDEX messages_closed ON messages(closed_at);
CREATE INDEX messages_archived ON messages(archived_at);
CREATE INDEX messages_followed ON messages(followed_up_at);
CREATE INDEX messages_state_id ON messages(state, id);
CREATE INDEX messages_category_id ON messages(category, id);
CREATE INDEX messages_handling_id ON messages(handling_unit_id, id);
CREATE TRIGGER gen_messages_insert AFTER INSERT ON messages BEGIN UPDATE data_generation SET n = n + 1; END;
CREATE TRIGGER gen_messages_update AFTER UPDATE ON messages BEGIN UPDATE data_generation SET n = n + 1; END;
CREATE TRIGGER gen_messages_delete AFTER DELETE ON messages BEGIN UPDATE data_generation SET n = n + 1; END;
UPDATE data_generation SET n = n + 1;
COMMIT;
PRAGMA foreign_keys = ON;
