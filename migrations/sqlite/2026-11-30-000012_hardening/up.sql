-- Each unit's attachment quota sums its users' uploads.
CREATE INDEX attachments_uploaded_by ON attachments(uploaded_by);
