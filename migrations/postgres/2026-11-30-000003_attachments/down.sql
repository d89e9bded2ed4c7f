DROP TABLE reply_templates;
DROP TABLE attachments;
DROP FUNCTION attachments_append_only;
