-- Reporting periods (上报期): the city centre opens one per month with a due date.
CREATE TABLE archive_periods (
    id SERIAL PRIMARY KEY,
    period TEXT NOT NULL UNIQUE,
    due_date DATE NOT NULL,
    opened_at TIMESTAMP NOT NULL,
    opened_by INTEGER REFERENCES users(id)
);

-- Each unit's submissions (上报) for a period; a returned one stays, a new one follows.
CREATE TABLE archive_submissions (
    id SERIAL PRIMARY KEY,
    period_id INTEGER NOT NULL REFERENCES archive_periods(id),
    unit_id INTEGER NOT NULL REFERENCES units(id),
    state TEXT NOT NULL,
    submitted_at TIMESTAMP NOT NULL,
    submitted_by INTEGER REFERENCES users(id),
    submitter_name TEXT NOT NULL,
    items TEXT NOT NULL,
    item_count INTEGER NOT NULL,
    late BOOLEAN NOT NULL,
    note TEXT NOT NULL,
    reviewed_at TIMESTAMP,
    reviewer_name TEXT,
    return_reason TEXT
);
CREATE INDEX archive_submissions_period ON archive_submissions(period_id, unit_id);
