DROP TABLE archive_submissions;
DROP TABLE archive_periods;
