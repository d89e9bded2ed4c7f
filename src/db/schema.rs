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
        locked_until -> Nullable<Timestamp>,
        password_changed_at -> Timestamp,
        created_at -> Timestamp,
        totp_secret -> Nullable<Text>,
        totp_enabled -> Bool,
        totp_last_step -> BigInt,
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
        seal_seq -> Nullable<BigInt>,
        hash -> Text,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    holidays (day) {
        day -> Date,
        name -> Text,
        is_off -> Bool,
    }
}

diesel::table! {
    options (id) {
        id -> Integer,
        kind -> Text,
        value -> Text,
        sort_order -> Integer,
        active -> Bool,
    }
}

diesel::table! {
    deadline_rules (id) {
        id -> Integer,
        level -> Nullable<Text>,
        source_platform -> Nullable<Text>,
        category -> Nullable<Text>,
        reply_days -> Integer,
        note -> Text,
    }
}

diesel::table! {
    ref_counters (owner_unit_id, year) {
        owner_unit_id -> Integer,
        year -> Integer,
        last_seq -> Integer,
    }
}

diesel::table! {
    messages (id) {
        id -> Integer,
        ref_no -> Text,
        owner_unit_id -> Integer,
        level -> Text,
        source_platform -> Text,
        platform_ref -> Nullable<Text>,
        complainant_name -> Text,
        complainant_contact -> Text,
        title -> Text,
        appeal -> Text,
        posted_at -> Timestamp,
        category -> Text,
        handling_unit_id -> Nullable<Integer>,
        forwarded_unit_id -> Nullable<Integer>,
        state -> Text,
        version -> Integer,
        registered_at -> Timestamp,
        assigned_at -> Nullable<Timestamp>,
        accept_due -> Nullable<Date>,
        accepted_at -> Nullable<Timestamp>,
        due_at -> Nullable<Date>,
        extension_days -> Integer,
        extension_requested_days -> Nullable<Integer>,
        draft_reply -> Nullable<Text>,
        handling_summary -> Nullable<Text>,
        proposed_resolved -> Nullable<Bool>,
        replied_at -> Nullable<Timestamp>,
        resolved -> Nullable<Bool>,
        closed_at -> Nullable<Timestamp>,
        followup_due -> Nullable<Date>,
        satisfaction -> Nullable<Text>,
        evaluation -> Nullable<Text>,
        followed_up_at -> Nullable<Timestamp>,
        report_ref_no -> Nullable<Text>,
        reported_at -> Nullable<Timestamp>,
        archived_at -> Nullable<Timestamp>,
        supervision_level -> Nullable<Text>,
        supervision_due -> Nullable<Date>,
        updated_at -> Timestamp,
        archive_no -> Nullable<Text>,
        retention -> Nullable<Text>,
        forward_accepted_at -> Nullable<Timestamp>,
        no_reopen_at -> Nullable<Timestamp>,
        duplicate_of -> Nullable<Integer>,
        name_key -> Nullable<Text>,
        contact_key -> Nullable<Text>,
    }
}

diesel::table! {
    message_events (id) {
        id -> Integer,
        message_id -> Integer,
        seq -> Integer,
        at -> Timestamp,
        user_id -> Nullable<Integer>,
        actor_name -> Text,
        unit_id -> Nullable<Integer>,
        action -> Text,
        from_state -> Nullable<Text>,
        to_state -> Text,
        text -> Text,
        detail -> Text,
        hash -> Text,
        hash_sm3 -> Text,
    }
}

diesel::table! {
    archive_counters (fonds, year, retention, unit_code) {
        fonds -> Text,
        year -> Integer,
        retention -> Text,
        unit_code -> Text,
        last_seq -> Integer,
    }
}

diesel::table! {
    archive_prints (id) {
        id -> Integer,
        message_id -> Integer,
        printed_at -> Timestamp,
        user_id -> Nullable<Integer>,
        actor_name -> Text,
        unit_id -> Nullable<Integer>,
        fingerprint -> Text,
        content -> Text,
    }
}

diesel::table! {
    attachments (id) {
        id -> Integer,
        message_id -> Integer,
        event_seq -> Integer,
        original_name -> Text,
        stored_name -> Text,
        content_type -> Text,
        size_bytes -> BigInt,
        sha256 -> Text,
        uploaded_by -> Nullable<Integer>,
        uploaded_at -> Timestamp,
    }
}

diesel::table! {
    reply_templates (id) {
        id -> Integer,
        category -> Text,
        title -> Text,
        body -> Text,
        active -> Bool,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    archive_periods (id) {
        id -> Integer,
        period -> Text,
        due_date -> Date,
        opened_at -> Timestamp,
        opened_by -> Nullable<Integer>,
    }
}

diesel::table! {
    archive_submissions (id) {
        id -> Integer,
        period_id -> Integer,
        unit_id -> Integer,
        state -> Text,
        submitted_at -> Timestamp,
        submitted_by -> Nullable<Integer>,
        submitter_name -> Text,
        items -> Text,
        item_count -> Integer,
        late -> Bool,
        note -> Text,
        reviewed_at -> Nullable<Timestamp>,
        reviewer_name -> Nullable<Text>,
        return_reason -> Nullable<Text>,
    }
}

diesel::table! {
    score_years (year) {
        year -> Integer,
        rules -> Text,
        finalised_at -> Nullable<Timestamp>,
        finalised_by -> Nullable<Text>,
    }
}

diesel::table! {
    score_entries (id) {
        id -> Integer,
        year -> Integer,
        unit_id -> Integer,
        item -> Text,
        points -> Integer,
        entry_date -> Date,
        reason -> Text,
        evidence_name -> Nullable<Text>,
        evidence_stored -> Nullable<Text>,
        evidence_sha256 -> Nullable<Text>,
        author_id -> Nullable<Integer>,
        author_name -> Text,
        created_at -> Timestamp,
        reverses -> Nullable<Integer>,
        occurrences -> Integer,
        evidence_ref -> Nullable<Text>,
    }
}

diesel::table! {
    score_results (year, unit_id) {
        year -> Integer,
        unit_id -> Integer,
        total -> Integer,
        grade -> Text,
        rank -> Integer,
        score -> Text,
    }
}

diesel::table! {
    return_marks (id) {
        id -> Integer,
        message_id -> Integer,
        event_seq -> Integer,
        unit_id -> Integer,
        reason -> Text,
        marked_by -> Text,
        marked_at -> Timestamp,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> Integer,
        user_id -> Integer,
        code_hash -> Text,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    password_history (id) {
        id -> Integer,
        user_id -> Integer,
        password_hash -> Text,
        changed_at -> Timestamp,
    }
}

diesel::table! {
    data_generation (id) {
        id -> Integer,
        n -> BigInt,
    }
}

diesel::joinable!(users -> units (unit_id));
diesel::joinable!(attachments -> messages (message_id));
diesel::joinable!(message_events -> messages (message_id));
diesel::joinable!(archive_prints -> messages (message_id));
diesel::table! {
    seals (subject, subject_id) {
        subject -> Text,
        subject_id -> Integer,
        count -> BigInt,
        head -> Text,
        content -> Text,
        gseq -> BigInt,
        at -> Timestamp,
        key_id -> Text,
        signature -> Text,
    }
}

diesel::table! {
    seal_state (id) {
        id -> Integer,
        gseq -> BigInt,
        seals -> BigInt,
        gseq_sum -> BigInt,
        at -> Timestamp,
        key_id -> Text,
        signature -> Text,
    }
}

diesel::table! {
    dispatch_models (id) {
        id -> Integer,
        kind -> Text,
        version -> Integer,
        trained_at -> Timestamp,
        examples -> Integer,
        site_examples -> Integer,
        classes -> Integer,
        cv_macro_f1 -> Nullable<Double>,
        active -> Bool,
        trained_by -> Text,
        data -> Binary,
    }
}

diesel::table! {
    dispatch_seeds (id) {
        id -> Integer,
        label -> Text,
        title -> Text,
        body -> Text,
        source -> Text,
        added_at -> Timestamp,
    }
}

diesel::table! {
    dispatch_subjects (subject, unit_id) {
        subject -> Text,
        unit_id -> Integer,
    }
}

diesel::table! {
    dispatch_proposals (id) {
        id -> Integer,
        message_id -> Integer,
        proposed_at -> Timestamp,
        month -> Text,
        model_version -> Integer,
        proposed_unit_id -> Integer,
        chosen_unit_id -> Integer,
        chosen_rank -> Nullable<Integer>,
        returned -> Bool,
    }
}

diesel::table! {
    dispatch_state (id) {
        id -> Integer,
        lease_until -> Nullable<Timestamp>,
        lease_holder -> Nullable<Text>,
        examples_at_train -> Integer,
    }
}

diesel::table! {
    reply_checks (message_id) {
        message_id -> Integer,
        unit_id -> Nullable<Integer>,
        replied_at -> Timestamp,
        score -> Integer,
        answers -> Bool,
        warnings -> Integer,
    }
}

diesel::table! {
    hot_features (message_id) {
        message_id -> Integer,
        names -> Text,
        votes -> Integer,
        dict -> BigInt,
    }
}

diesel::table! {
    hot_clusters (id) {
        id -> Integer,
        place -> Text,
        name -> Nullable<Text>,
        description -> Text,
        first_at -> Timestamp,
        last_at -> Timestamp,
        messages -> Integer,
        users -> Integer,
        votes -> Integer,
        heat -> Double,
        growth -> Double,
        warning -> Bool,
        status -> Text,
        marked -> Bool,
        fixed -> Bool,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    hot_members (message_id) {
        message_id -> Integer,
        cluster_id -> Integer,
        pinned -> Bool,
    }
}

diesel::table! {
    form_submissions (form_key) {
        form_key -> Text,
        message_id -> Integer,
        created_at -> Timestamp,
    }
}

diesel::joinable!(hot_members -> hot_clusters (cluster_id));
diesel::joinable!(hot_members -> messages (message_id));
diesel::joinable!(hot_features -> messages (message_id));

diesel::table! {
    login_failures (username, ip) {
        username -> Text,
        ip -> Text,
        failures -> Integer,
        last_at -> Timestamp,
        held_until -> Nullable<Timestamp>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    form_submissions,
    units,
    users,
    sessions,
    audit_log,
    settings,
    holidays,
    options,
    deadline_rules,
    ref_counters,
    messages,
    message_events,
    attachments,
    reply_templates,
    archive_counters,
    archive_prints,
    archive_periods,
    archive_submissions,
    score_years,
    score_entries,
    score_results,
    return_marks,
    recovery_codes,
    password_history,
    seals,
    dispatch_models,
    dispatch_seeds,
    dispatch_subjects,
    dispatch_proposals,
    dispatch_state,
    reply_checks,
    hot_features,
    hot_clusters,
    hot_members
);
