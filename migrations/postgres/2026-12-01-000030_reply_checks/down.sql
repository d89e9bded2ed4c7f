DROP TABLE reply_checks;
