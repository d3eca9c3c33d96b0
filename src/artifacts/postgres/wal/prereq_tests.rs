use super::*;

#[test]
fn wal_level_must_be_replica_or_logical() {
    assert_eq!(wal_level_step("replica").outcome, Outcome::Pass);
    assert_eq!(wal_level_step("logical").outcome, Outcome::Pass);
    let minimal = wal_level_step("minimal");
    assert_eq!(minimal.outcome, Outcome::Fail);
    assert!(minimal.message.contains("wal_level = replica"), "{}", minimal.message);
}

#[test]
fn wal_senders_need_one_free_and_better_two() {
    assert_eq!(senders_step(0, 0).outcome, Outcome::Fail);
    assert!(senders_step(3, 3).message.contains("all are in use"));
    assert_eq!(senders_step(3, 3).outcome, Outcome::Fail);
    assert_eq!(senders_step(3, 2).outcome, Outcome::Warn);
    assert_eq!(senders_step(10, 2).outcome, Outcome::Pass);
    assert!(senders_step(10, 2).message.contains("8 free"));
}

#[test]
fn a_slot_must_exist_or_be_free() {
    assert_eq!(slots_step(0, 0, false, "devpilot_x").outcome, Outcome::Fail);
    assert_eq!(slots_step(2, 2, false, "devpilot_x").outcome, Outcome::Fail);
    let ours = slots_step(2, 2, true, "devpilot_x");
    assert_eq!(ours.outcome, Outcome::Pass);
    assert!(ours.message.contains("devpilot_x exists"));
    assert_eq!(slots_step(2, 1, false, "devpilot_x").outcome, Outcome::Pass);
}

#[test]
fn the_role_needs_replication() {
    assert_eq!(role_step(true, "app").outcome, Outcome::Pass);
    let refused = role_step(false, "App User");
    assert_eq!(refused.outcome, Outcome::Fail);
    assert!(refused.message.contains("ALTER ROLE \"App User\" REPLICATION"), "{}", refused.message);
}

#[test]
fn an_unlimited_slot_is_a_warning() {
    assert_eq!(keep_size_step(Some("-1")).outcome, Outcome::Warn);
    assert!(keep_size_step(Some("-1")).message.contains("set it to e.g. 10GB"));
    assert_eq!(keep_size_step(Some("10GB")).outcome, Outcome::Pass);
    assert_eq!(keep_size_step(None).outcome, Outcome::Pass);
}

#[test]
fn a_refused_replication_connection_shows_postgresql_s_words_and_the_line_to_add() {
    let psql = "psql: error: connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  no pg_hba.conf entry \
                for replication connection from host \"10.0.0.9\", user \"app\", no encryption";
    let refused = replication_refused(psql, "app", Some("10.0.0.9"));
    assert_eq!(refused.outcome, Outcome::Fail);
    assert!(refused.message.contains("FATAL: no pg_hba.conf entry for replication connection"), "{}", refused.message);
    assert!(refused.message.contains("host replication app 10.0.0.9/32 scram-sha-256"), "{}", refused.message);
    assert!(replication_refused(psql, "app", Some("fd00::9")).message.contains("fd00::9/128"));
    assert!(replication_refused(psql, "app", None).message.contains("local replication app scram-sha-256"));
    let not_hba = replication_refused("FATAL:  must be superuser or replication role to start walsender", "app", None);
    assert!(!not_hba.message.contains("Add this line"), "{}", not_hba.message);
}
