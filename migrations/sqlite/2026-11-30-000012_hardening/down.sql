DROP INDEX attachments_uploaded_by;
