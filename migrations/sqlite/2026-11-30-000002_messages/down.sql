DROP TABLE message_events;
DROP TABLE messages;
DROP TABLE ref_counters;
DROP TABLE deadline_rules;
DROP TABLE options;
DROP TABLE holidays;
