-- The scoreboard reads a year's approvals (审核通过), follow-ups and rejections by action
-- and time: this index also holds the message and the detail (化解, 满意度), so the event
-- rows are not read. It replaces the plain (action, at) index.
CREATE INDEX message_events_action_cover ON message_events(action, at, message_id, detail);
DROP INDEX message_events_action_at;
-- 档案要素不全 reads the year's messages still at 呈报 by their 办结 time.
CREATE INDEX messages_state_closed ON messages(state, closed_at);
