-- One row per submitted 登记 form, written in the same transaction as the message: the
-- form's random key names it, so a request whose COMMIT answer was lost can tell whether
-- it went through, and the same form sent again never registers a second message. (No
-- foreign key: the row only ever points at the message its own transaction created.)
CREATE TABLE form_submissions (
    form_key TEXT PRIMARY KEY NOT NULL,
    message_id INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);
