-- The scoring's 超期签收 item reads messages by their 签收 deadline.
CREATE INDEX messages_accept_due ON messages(accept_due);
