-- A year's scoring rules (JSON), frozen with the year at 定稿.
CREATE TABLE score_years (
    year INTEGER PRIMARY KEY NOT NULL,
    rules TEXT NOT NULL,
    finalised_at TIMESTAMP,
    finalised_by TEXT
);

-- Manual bonus/deduction entries; withdrawn only by a reversal entry.
CREATE TABLE score_entries (
    id SERIAL PRIMARY KEY,
    year INTEGER NOT NULL,
    unit_id INTEGER NOT NULL REFERENCES units(id),
    item TEXT NOT NULL,
    points INTEGER NOT NULL,
    entry_date DATE NOT NULL,
    reason TEXT NOT NULL,
    evidence_name TEXT,
    evidence_stored TEXT,
    evidence_sha256 TEXT,
    author_id INTEGER REFERENCES users(id),
    author_name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    reverses INTEGER REFERENCES score_entries(id)
);
CREATE INDEX score_entries_year ON score_entries(year, unit_id);

-- The frozen result of a finalised year: one row per unit.
CREATE TABLE score_results (
    year INTEGER NOT NULL,
    unit_id INTEGER NOT NULL REFERENCES units(id),
    total INTEGER NOT NULL,
    grade TEXT NOT NULL,
    rank INTEGER NOT NULL,
    score TEXT NOT NULL,
    PRIMARY KEY (year, unit_id)
);

-- The owner's finding that a 退回 was unjustified (推诿扯皮).
CREATE TABLE return_marks (
    id SERIAL PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages(id),
    event_seq INTEGER NOT NULL,
    unit_id INTEGER NOT NULL REFERENCES units(id),
    reason TEXT NOT NULL,
    marked_by TEXT NOT NULL,
    marked_at TIMESTAMP NOT NULL,
    UNIQUE (message_id, event_seq)
);
