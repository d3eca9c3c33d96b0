// Written by hand: only SQL types that SQLite and PostgreSQL share (Text ids, Timestamp in UTC,
// Binary for ciphertext), so one schema serves both backends.

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        name -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
        is_operator -> Bool,
        disabled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    workspaces (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamp,
        artifact_key -> Nullable<Binary>,
    }
}

diesel::table! {
    memberships (workspace_id, user_id) {
        workspace_id -> Text,
        user_id -> Text,
        role -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sign_in_attempts (id) {
        id -> Text,
        email -> Text,
        ip -> Text,
        created_at -> Timestamp,
        outcome -> Text,
    }
}

diesel::table! {
    destinations (id) {
        id -> Text,
        workspace_id -> Text,
        name -> Text,
        kind -> Text,
        settings -> Text,
        credentials -> Binary,
        status -> Text,
        status_before_test -> Nullable<Text>,
        last_tested_at -> Nullable<Timestamp>,
        last_test_message -> Nullable<Text>,
        is_default -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        host_key_fingerprint -> Nullable<Text>,
        server_id -> Nullable<Text>,
        test_owner -> Nullable<Text>,
        compatibility -> Nullable<Text>,
        next_revalidation_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    servers (id) {
        id -> Text,
        workspace_id -> Text,
        name -> Text,
        host -> Text,
        port -> BigInt,
        username -> Text,
        credentials -> Binary,
        host_key_fingerprint -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(memberships -> workspaces (workspace_id));
diesel::joinable!(destinations -> workspaces (workspace_id));
diesel::joinable!(destinations -> servers (server_id));
diesel::joinable!(servers -> workspaces (workspace_id));

diesel::allow_tables_to_appear_in_same_query!(users, workspaces, memberships, destinations, servers);

diesel::table! {
    oauth_states (state_hash) {
        state_hash -> Text,
        workspace_id -> Text,
        destination_id -> Text,
        user_id -> Text,
        session_hash -> Text,
        pkce_verifier -> Binary,
        redirect_uri -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    plans (id) {
        id -> Text,
        workspace_id -> Text,
        name -> Text,
        slug -> Text,
        source_kind -> Text,
        source_path -> Text,
        destination_id -> Nullable<Text>,
        schedule -> Text,
        retention -> BigInt,
        enabled -> Bool,
        next_run_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        source_secret -> Nullable<Binary>,
        encrypt -> Bool,
    }
}

diesel::table! {
    runs (id) {
        id -> Text,
        workspace_id -> Text,
        plan_id -> Text,
        destination_id -> Nullable<Text>,
        status -> Text,
        trigger -> Text,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
        bytes -> BigInt,
        sha256 -> Nullable<Text>,
        object_key -> Nullable<Text>,
        error -> Nullable<Text>,
        pruned_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        source_kind -> Nullable<Text>,
        encrypted -> Bool,
        owner_id -> Nullable<Text>,
        notes -> Nullable<Text>,
        expected_bytes -> Nullable<BigInt>,
        read_bytes -> Nullable<BigInt>,
    }
}

diesel::joinable!(plans -> workspaces (workspace_id));
diesel::joinable!(plans -> destinations (destination_id));
diesel::joinable!(runs -> plans (plan_id));
diesel::allow_tables_to_appear_in_same_query!(plans, runs, destinations);

diesel::table! {
    api_tokens (id) {
        id -> Text,
        workspace_id -> Text,
        created_by -> Text,
        name -> Text,
        role -> Text,
        prefix -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    instances (id) {
        id -> Text,
        started_at -> Timestamp,
        heartbeat_at -> Timestamp,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        workspace_id -> Text,
        occurred_at -> Timestamp,
        actor_user_id -> Text,
        actor_email -> Text,
        actor_token -> Nullable<Text>,
        channel -> Text,
        action -> Text,
        subject_type -> Text,
        subject_id -> Text,
        subject_name -> Text,
        detail -> Text,
    }
}

diesel::table! {
    host_grants (id) {
        id -> Text,
        workspace_id -> Text,
        kind -> Text,
        path -> Nullable<Text>,
        access -> Nullable<Text>,
        host -> Nullable<Text>,
        port -> Nullable<BigInt>,
        note -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(host_grants -> workspaces (workspace_id));
diesel::allow_tables_to_appear_in_same_query!(host_grants, workspaces);

diesel::table! {
    sessions (id) {
        id -> Text,
        token_hash -> Text,
        user_id -> Text,
        kind -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
        ip -> Text,
        user_agent -> Text,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(sessions, users);

diesel::table! {
    invitations (id) {
        id -> Text,
        workspace_id -> Text,
        email -> Text,
        role -> Text,
        token_hash -> Text,
        invited_by -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        accepted_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(invitations -> workspaces (workspace_id));
diesel::joinable!(invitations -> users (invited_by));
diesel::allow_tables_to_appear_in_same_query!(invitations, workspaces);
diesel::allow_tables_to_appear_in_same_query!(invitations, users);

diesel::table! {
    databases (id) {
        id -> Text,
        workspace_id -> Text,
        name -> Text,
        slug -> Text,
        url_secret -> Binary,
        destination_id -> Nullable<Text>,
        base_schedule -> Text,
        next_base_at -> Nullable<Timestamp>,
        window_days -> BigInt,
        min_base_backups -> BigInt,
        encrypt -> Bool,
        archiving -> Bool,
        archive_prefix -> Text,
        seg_size -> BigInt,
        server_version -> Integer,
        system_identifier -> Text,
        status -> Text,
        status_message -> Nullable<Text>,
        receiver_instance -> Nullable<Text>,
        receiver_beat_at -> Nullable<Timestamp>,
        last_received_at -> Nullable<Timestamp>,
        received_lsn -> Nullable<Text>,
        lag_bytes -> Nullable<BigInt>,
        slot_wal_status -> Nullable<Text>,
        replaced_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    wal_files (database_id, name) {
        database_id -> Text,
        name -> Text,
        kind -> Text,
        timeline -> Integer,
        segno -> BigInt,
        size -> BigInt,
        stored_size -> BigInt,
        sha256 -> Text,
        object_key -> Text,
        received_at -> Timestamp,
        uploaded_at -> Timestamp,
    }
}

diesel::table! {
    base_backups (id) {
        id -> Text,
        database_id -> Text,
        workspace_id -> Text,
        status -> Text,
        trigger -> Text,
        instance_id -> Nullable<Text>,
        object_key -> Nullable<Text>,
        timeline -> Nullable<Integer>,
        start_lsn -> Nullable<Text>,
        stop_lsn -> Nullable<Text>,
        started_at -> Timestamp,
        stopped_at -> Nullable<Timestamp>,
        bytes -> BigInt,
        sha256 -> Nullable<Text>,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    database_clones (id) {
        id -> Text,
        workspace_id -> Text,
        database_id -> Text,
        name -> Text,
        port -> Integer,
        target_time -> Nullable<Timestamp>,
        timeline -> Nullable<Integer>,
        status -> Text,
        error -> Nullable<Text>,
        instance_id -> Nullable<Text>,
        fetch_token_hash -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(databases -> destinations (destination_id));
diesel::joinable!(wal_files -> databases (database_id));
diesel::joinable!(base_backups -> databases (database_id));
diesel::joinable!(database_clones -> databases (database_id));
diesel::allow_tables_to_appear_in_same_query!(databases, destinations, wal_files, base_backups, database_clones);

diesel::table! {
    destination_tests (id) {
        id -> Text,
        workspace_id -> Text,
        destination_id -> Text,
        started_at -> Timestamp,
        finished_at -> Timestamp,
        duration_ms -> BigInt,
        status -> Text,
        deep -> Bool,
        steps -> Text,
        error_class -> Nullable<Text>,
        error_message -> Nullable<Text>,
        trigger_kind -> Text,
        triggered_by -> Nullable<Text>,
        triggered_token -> Nullable<Text>,
        status_before -> Text,
        status_after -> Text,
    }
}

diesel::joinable!(destination_tests -> destinations (destination_id));

diesel::table! {
    metrics_tokens (id) {
        id -> Text,
        prefix -> Text,
        token_hash -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notification_channels (id) {
        id -> Text,
        workspace_id -> Text,
        name -> Text,
        kind -> Text,
        settings -> Text,
        secrets -> Binary,
        events -> Text,
        enabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    plan_pings (plan_id) {
        plan_id -> Text,
        workspace_id -> Text,
        url_sealed -> Binary,
        host -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    notification_outbox (id) {
        id -> Text,
        workspace_id -> Text,
        channel_id -> Nullable<Text>,
        plan_id -> Nullable<Text>,
        event_id -> Text,
        event -> Text,
        payload -> Text,
        status -> Text,
        attempts -> BigInt,
        next_attempt_at -> Timestamp,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    notification_deliveries (id) {
        id -> Text,
        workspace_id -> Text,
        outbox_id -> Text,
        channel_id -> Nullable<Text>,
        plan_id -> Nullable<Text>,
        event -> Text,
        attempt -> BigInt,
        attempted_at -> Timestamp,
        ok -> Bool,
        outcome -> Text,
        answer -> Text,
        instance_id -> Text,
    }
}

diesel::table! {
    notification_episodes (subject) {
        subject -> Text,
        workspace_id -> Text,
        started_at -> Timestamp,
    }
}

diesel::joinable!(plan_pings -> plans (plan_id));
diesel::allow_tables_to_appear_in_same_query!(plan_pings, plans);

diesel::table! {
    plan_copies (plan_id, position) {
        plan_id -> Text,
        position -> BigInt,
        destination_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    retention_policies (plan_id, copy_position) {
        plan_id -> Text,
        workspace_id -> Text,
        copy_position -> BigInt,
        keep_last -> BigInt,
        keep_hourly -> BigInt,
        keep_daily -> BigInt,
        keep_weekly -> BigInt,
        keep_monthly -> BigInt,
        keep_yearly -> BigInt,
        lock_mode -> Nullable<Text>,
        lock_days -> Nullable<BigInt>,
    }
}

diesel::table! {
    run_copies (run_id, position) {
        run_id -> Text,
        workspace_id -> Text,
        position -> BigInt,
        destination_id -> Nullable<Text>,
        status -> Text,
        bytes -> BigInt,
        sha256 -> Nullable<Text>,
        object_key -> Nullable<Text>,
        error -> Nullable<Text>,
        pruned_at -> Nullable<Timestamp>,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(plan_copies -> plans (plan_id));
diesel::joinable!(run_copies -> runs (run_id));
diesel::allow_tables_to_appear_in_same_query!(plan_copies, plans);
diesel::allow_tables_to_appear_in_same_query!(plan_copies, destinations);
diesel::allow_tables_to_appear_in_same_query!(run_copies, runs);
diesel::allow_tables_to_appear_in_same_query!(run_copies, destinations);
diesel::allow_tables_to_appear_in_same_query!(run_copies, plans);

diesel::table! {
    artifact_locks (run_id, copy_position) {
        run_id -> Text,
        workspace_id -> Text,
        copy_position -> BigInt,
        mode -> Text,
        retain_until -> Timestamp,
    }
}

diesel::joinable!(retention_policies -> plans (plan_id));
diesel::joinable!(artifact_locks -> runs (run_id));
diesel::allow_tables_to_appear_in_same_query!(retention_policies, plans);
diesel::allow_tables_to_appear_in_same_query!(artifact_locks, runs);

diesel::table! {
    destination_numbers (number) {
        number -> BigInt,
        destination_id -> Text,
    }
}

diesel::joinable!(destination_numbers -> destinations (destination_id));
diesel::allow_tables_to_appear_in_same_query!(destination_numbers, destinations);

diesel::table! {
    run_manifests (run_id) {
        run_id -> Text,
        workspace_id -> Text,
        files -> BigInt,
        bytes -> BigInt,
        entries -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    run_manifest_parts (run_id, part) {
        run_id -> Text,
        part -> BigInt,
        entries -> Binary,
    }
}

diesel::table! {
    plan_drills (plan_id) {
        plan_id -> Text,
        workspace_id -> Text,
        schedule -> Text,
        enabled -> Bool,
        next_drill_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    drills (id) {
        id -> Text,
        workspace_id -> Text,
        plan_id -> Text,
        run_id -> Nullable<Text>,
        copy_position -> BigInt,
        status -> Text,
        trigger_kind -> Text,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        checked -> Nullable<Text>,
        error -> Nullable<Text>,
        bytes_read -> BigInt,
        owner_id -> Nullable<Text>,
    }
}

diesel::joinable!(plan_drills -> plans (plan_id));
diesel::joinable!(drills -> plans (plan_id));
diesel::allow_tables_to_appear_in_same_query!(plan_drills, plans, drills);

diesel::table! {
    instance_backup_config (id) {
        id -> Text,
        destination_kind -> Text,
        destination_sealed -> Binary,
        keys_sealed -> Binary,
        key_ids -> Text,
        schedule -> Nullable<Text>,
        next_due_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
        updated_by -> Text,
        keep_count -> BigInt,
    }
}

diesel::table! {
    instance_backups (id) {
        id -> Text,
        trigger -> Text,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        status -> Text,
        object_key -> Nullable<Text>,
        bytes -> BigInt,
        sha256 -> Nullable<Text>,
        error -> Nullable<Text>,
        pruned_at -> Nullable<Timestamp>,
    }
}
