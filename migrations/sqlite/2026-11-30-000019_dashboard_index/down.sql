DROP INDEX messages_posted_kinds;
