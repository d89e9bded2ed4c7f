DROP INDEX messages_accept_due;
