-- The scoreboard reads a year's approvals (审核通过), follow-ups and rejections by action
-- and time: this index also holds the message, so the scan needs no lookup for it. (The
-- detail stays out: a PostgreSQL index entry is limited to about 2.7 kB and a detail may
-- carry a clerk's note.) It replaces the plain (action, at) index.
CREATE INDEX message_events_action_cover ON message_events(action, at) INCLUDE (message_id);
DROP INDEX message_events_action_at;
-- 档案要素不全 reads the year's messages still at 呈报 by their 办结 time.
CREATE INDEX messages_state_closed ON messages(state, closed_at);
