-- Exports name each message's 经办人 and 审核人 from its latest reply and approval:
-- answered from this index alone, without reading the (large) event rows.
CREATE INDEX message_events_msg_action ON message_events(message_id, action, seq, actor_name);
-- The home page shows the user's previous login.
CREATE INDEX audit_log_user_event ON audit_log(user_id, event, id);
