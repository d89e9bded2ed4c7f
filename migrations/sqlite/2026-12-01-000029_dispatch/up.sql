-- 智能分拨: trained models (versioned; one active per kind, earlier ones kept for roll
-- back), labelled seed texts a site was seeded with, the centre's mapping of subjects
-- to departments, every proposal made at 转办 with what was chosen, and a lease so that
-- one process at a time retrains.
CREATE TABLE dispatch_models (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    kind TEXT NOT NULL,
    version INTEGER NOT NULL,
    trained_at TIMESTAMP NOT NULL,
    examples INTEGER NOT NULL,
    site_examples INTEGER NOT NULL,
    classes INTEGER NOT NULL,
    cv_macro_f1 DOUBLE,
    active BOOLEAN NOT NULL,
    trained_by TEXT NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (kind, version)
);
CREATE TABLE dispatch_seeds (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    label TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    source TEXT NOT NULL,
    added_at TIMESTAMP NOT NULL
);
CREATE TABLE dispatch_subjects (
    subject TEXT NOT NULL,
    unit_id INTEGER NOT NULL REFERENCES units(id),
    PRIMARY KEY (subject, unit_id)
);
CREATE TABLE dispatch_proposals (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    message_id INTEGER NOT NULL REFERENCES messages(id),
    proposed_at TIMESTAMP NOT NULL,
    month TEXT NOT NULL,
    model_version INTEGER NOT NULL,
    proposed_unit_id INTEGER NOT NULL REFERENCES units(id),
    chosen_unit_id INTEGER NOT NULL REFERENCES units(id),
    chosen_rank INTEGER,
    returned BOOLEAN NOT NULL
);
CREATE INDEX dispatch_proposals_month ON dispatch_proposals(month, proposed_unit_id, chosen_unit_id, returned);
CREATE INDEX dispatch_proposals_message ON dispatch_proposals(message_id);
CREATE TABLE dispatch_state (
    id INTEGER PRIMARY KEY NOT NULL,
    lease_until TIMESTAMP,
    lease_holder TEXT,
    examples_at_train INTEGER NOT NULL
);
INSERT INTO dispatch_state (id, lease_until, lease_holder, examples_at_train) VALUES (1, NULL, NULL, 0);
