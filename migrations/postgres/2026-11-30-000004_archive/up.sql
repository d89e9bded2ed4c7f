-- 档号 (DA/T 22-2015: 全宗号-门类代码·年度-保管期限-机构代码-件号) and 保管期限, set at 销号.
ALTER TABLE messages ADD COLUMN archive_no TEXT;
ALTER TABLE messages ADD COLUMN retention TEXT;
CREATE UNIQUE INDEX messages_archive_no ON messages(archive_no);

-- The hash chain over each message's events (SHA-256 and SM3 side by side).
ALTER TABLE message_events ADD COLUMN hash TEXT NOT NULL DEFAULT '';
ALTER TABLE message_events ADD COLUMN hash_sm3 TEXT NOT NULL DEFAULT '';

-- Gap-free 件号 per fonds, year, retention and unit.
CREATE TABLE archive_counters (
    fonds TEXT NOT NULL,
    year INTEGER NOT NULL,
    retention TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (fonds, year, retention, unit_code)
);

-- Every print of an archive page: who, when, and exactly what was printed.
CREATE TABLE archive_prints (
    id SERIAL PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages(id),
    printed_at TIMESTAMP NOT NULL,
    user_id INTEGER REFERENCES users(id),
    actor_name TEXT NOT NULL,
    unit_id INTEGER REFERENCES units(id),
    fingerprint TEXT NOT NULL,
    content TEXT NOT NULL
);
CREATE INDEX archive_prints_message ON archive_prints(message_id, id);
CREATE INDEX archive_prints_fingerprint ON archive_prints(fingerprint);
