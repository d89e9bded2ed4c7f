DROP TABLE reply_templates;
DROP TABLE attachments;
