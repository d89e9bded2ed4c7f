-- Working-day calendar: public holidays (is_off) and 调休 make-up working days (not is_off).
CREATE TABLE holidays (
    day DATE PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    is_off BOOLEAN NOT NULL
);

-- Configurable lists: kind = level | platform | category.
CREATE TABLE options (
    id SERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    sort_order INTEGER NOT NULL DEFAULT 0,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    UNIQUE (kind, value)
);

-- Reply deadline rules; NULL matches anything, the most specific rule wins.
CREATE TABLE deadline_rules (
    id SERIAL PRIMARY KEY,
    level TEXT,
    source_platform TEXT,
    category TEXT,
    reply_days INTEGER NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);

-- Gap-free 留言文号 sequence per owner unit and year.
CREATE TABLE ref_counters (
    owner_unit_id INTEGER NOT NULL REFERENCES units(id),
    year INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (owner_unit_id, year)
);

CREATE TABLE messages (
    id SERIAL PRIMARY KEY,
    ref_no TEXT NOT NULL UNIQUE,
    owner_unit_id INTEGER NOT NULL REFERENCES units(id),
    level TEXT NOT NULL,
    source_platform TEXT NOT NULL,
    platform_ref TEXT,
    complainant_name TEXT NOT NULL,
    complainant_contact TEXT NOT NULL,
    title TEXT NOT NULL,
    appeal TEXT NOT NULL,
    posted_at TIMESTAMP NOT NULL,
    category TEXT NOT NULL,
    handling_unit_id INTEGER REFERENCES units(id),
    forwarded_unit_id INTEGER REFERENCES units(id),
    state TEXT NOT NULL,
    version INTEGER NOT NULL,
    registered_at TIMESTAMP NOT NULL,
    assigned_at TIMESTAMP,
    accept_due DATE,
    accepted_at TIMESTAMP,
    due_at DATE,
    extension_days INTEGER NOT NULL DEFAULT 0,
    extension_requested_days INTEGER,
    draft_reply TEXT,
    handling_summary TEXT,
    proposed_resolved BOOLEAN,
    replied_at TIMESTAMP,
    resolved BOOLEAN,
    closed_at TIMESTAMP,
    followup_due DATE,
    satisfaction TEXT,
    evaluation TEXT,
    followed_up_at TIMESTAMP,
    report_ref_no TEXT,
    reported_at TIMESTAMP,
    archived_at TIMESTAMP,
    supervision_level TEXT,
    supervision_due DATE,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX messages_state ON messages(state, due_at);
CREATE INDEX messages_handling ON messages(handling_unit_id, state);
CREATE INDEX messages_forwarded ON messages(forwarded_unit_id);
CREATE INDEX messages_owner ON messages(owner_unit_id, state);
CREATE INDEX messages_registered ON messages(registered_at);
CREATE INDEX messages_complainant ON messages(complainant_name, posted_at);
CREATE INDEX messages_platform_ref ON messages(platform_ref);

-- The append-only timeline of every message.
CREATE TABLE message_events (
    id SERIAL PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages(id),
    seq INTEGER NOT NULL,
    at TIMESTAMP NOT NULL,
    user_id INTEGER REFERENCES users(id),
    actor_name TEXT NOT NULL,
    unit_id INTEGER REFERENCES units(id),
    action TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    text TEXT NOT NULL,
    detail TEXT NOT NULL,
    UNIQUE (message_id, seq)
);
CREATE FUNCTION message_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'message_events is append-only'; END; $$;
CREATE TRIGGER message_events_no_change BEFORE UPDATE OR DELETE ON message_events
FOR EACH ROW EXECUTE FUNCTION message_events_append_only();
