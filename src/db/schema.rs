//! Portable table definitions, shared by the SQLite and PostgreSQL backends.

diesel::table! {
    units (id) {
        id -> Integer,
        parent_id -> Nullable<Integer>,
        name -> Text,
        short_name -> Text,
        kind -> Text,
        code -> Nullable<Text>,
        sort_order -> Integer,
        active -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Integer,
        username -> Text,
        display_name -> Text,
        unit_id -> Integer,
        role -> Text,
        password_hash -> Text,
        active -> Bool,
        must_change_password -> Bool,
        failed_attempts -> Integer,
        locked_until -> Nullable<Timestamp>,
        password_changed_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Nullable<Integer>,
        state -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Integer,
        at -> Timestamp,
        user_id -> Nullable<Integer>,
        username -> Text,
        unit_id -> Nullable<Integer>,
        ip -> Text,
        event -> Text,
        object -> Text,
        result -> Text,
        detail -> Text,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::joinable!(users -> units (unit_id));
diesel::allow_tables_to_appear_in_same_query!(units, users, sessions, audit_log, settings);
