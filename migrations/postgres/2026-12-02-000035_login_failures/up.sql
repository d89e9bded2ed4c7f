-- Wrong passwords per account (as typed) and client address: the waits that hold one
-- address off one account (src/auth/throttle.rs).
CREATE TABLE login_failures (
    username TEXT NOT NULL,
    ip TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_at TIMESTAMP NOT NULL,
    held_until TIMESTAMP,
    PRIMARY KEY (username, ip)
);
