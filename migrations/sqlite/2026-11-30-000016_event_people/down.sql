DROP INDEX message_events_msg_action;
DROP INDEX audit_log_user_event;
