-- Files attached to a message's events (登记, 办理情况, 答复, 回访 …). The file itself
-- lives under the data directory (attachments/), named by stored_name; never in static/.
CREATE TABLE attachments (
    id SERIAL PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages(id),
    event_seq INTEGER NOT NULL,
    original_name TEXT NOT NULL,
    stored_name TEXT NOT NULL UNIQUE,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_by INTEGER REFERENCES users(id),
    uploaded_at TIMESTAMP NOT NULL
);
CREATE INDEX attachments_message ON attachments(message_id, event_seq);
CREATE FUNCTION attachments_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'attachments are append-only'; END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER attachments_no_change BEFORE UPDATE OR DELETE ON attachments
FOR EACH ROW EXECUTE FUNCTION attachments_append_only();

-- 答复模板: reply templates per 所属类型, kept by the city centre.
CREATE TABLE reply_templates (
    id SERIAL PRIMARY KEY,
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX reply_templates_category ON reply_templates(category);
