-- 答复质量: the check of each message's latest reply, kept so that 统计分析 counts the
-- flagged replies per unit without checking every text again. Written in the same
-- transaction as the reply's update of the message (which moves data_generation).
CREATE TABLE reply_checks (
    message_id INTEGER PRIMARY KEY NOT NULL REFERENCES messages(id),
    unit_id INTEGER REFERENCES units(id),
    replied_at TIMESTAMP NOT NULL,
    score INTEGER NOT NULL,
    answers BOOLEAN NOT NULL,
    -- 1 相关性, 2 完整性, 4 及时性, 8 套话: the items with a 提示.
    warnings INTEGER NOT NULL
);
CREATE INDEX reply_checks_replied ON reply_checks (replied_at);
