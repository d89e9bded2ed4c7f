DROP TABLE message_events;
DROP FUNCTION message_events_append_only();
DROP TABLE messages;
DROP TABLE ref_counters;
DROP TABLE deadline_rules;
DROP TABLE options;
DROP TABLE holidays;
