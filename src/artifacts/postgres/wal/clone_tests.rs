use super::*;
use bytes::Bytes;
use futures::StreamExt;

fn myself() -> OsUser {
    let number = |flag: &str| id(&[flag]).and_then(|t| super::number(&t)).expect("id");
    OsUser { name: id(&["-un"]).expect("name"), uid: number("-u"), gid: number("-g") }
}

fn settings(target: Option<DateTime<Utc>>) -> RecoverySettings {
    RecoverySettings { restore_command: "cp '/srv/wal archive/%f' \"%p\"".into(), target: target.into(), port: 54321 }
}

#[test]
fn settings_are_quoted_as_postgresql_conf_reads_them() {
    assert_eq!(conf_value("cp /a/%f %p"), Ok("'cp /a/%f %p'".into()));
    assert_eq!(conf_value("it's a\\b"), Ok("'it''s a\\\\b'".into()));
    assert!(conf_value("x\nrestore_command = 'evil'").is_err());
}

#[test]
fn the_target_is_written_in_utc_with_its_offset() {
    let target = DateTime::parse_from_rfc3339("2024-03-01T12:34:56.789+02:00").expect("time").to_utc();
    let lines = recovery_lines(Path::new("/clones/a/data"), &settings(Some(target))).expect("lines");
    for expected in [
        "recovery_target_time = '2024-03-01 10:34:56.789000+00'",
        "restore_command = 'cp ''/srv/wal archive/%f'' \"%p\"'",
        "recovery_target_action = 'promote'",
        "recovery_target_timeline = 'latest'",
        "port = 54321",
        "listen_addresses = '127.0.0.1'",
        "unix_socket_directories = '/clones/a/data'",
        "archive_mode = 'off'",
    ] {
        assert!(lines.lines().any(|l| l == expected), "{expected} in {lines}");
    }
    let to_the_end = recovery_lines(Path::new("/c"), &settings(None)).expect("lines");
    // Written empty, so it overrides a target an earlier attempt appended.
    assert!(to_the_end.lines().any(|l| l == "recovery_target_time = ''"), "{to_the_end}");
}

#[test]
fn recovery_is_configured_in_the_cluster_s_folder() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path();
    std::fs::write(data.join("postgresql.auto.conf"), "work_mem = '8MB'\n").expect("auto");
    std::fs::write(data.join("postmaster.pid"), "123\n").expect("pid");
    std::fs::write(data.join("standby.signal"), "").expect("standby");
    configure_recovery(data, &settings(None), &myself()).expect("configure");
    let read = |name: &str| std::fs::read_to_string(data.join(name)).expect(name);
    assert!(read("postgresql.auto.conf").starts_with("work_mem = '8MB'\n"));
    assert!(read("postgresql.auto.conf").contains("restore_command = "));
    assert!(read("pg_hba.conf").contains("host all all 127.0.0.1/32 md5"));
    assert!(read("pg_hba.conf").contains("local all all peer"));
    assert!(read("postgresql.conf").contains("postgresql.auto.conf"));
    assert!(data.join("recovery.signal").is_file());
    assert!(!data.join("postmaster.pid").exists() && !data.join("standby.signal").exists());

    // A postgresql.conf of the backup's own stays; a link planted in it is never written through.
    let again = tempfile::tempdir().expect("dir");
    std::fs::write(again.path().join("postgresql.conf"), "shared_buffers = '64MB'\n").expect("conf");
    let outside = again.path().join("outside");
    std::os::unix::fs::symlink(&outside, again.path().join("pg_hba.conf")).expect("link");
    assert!(configure_recovery(again.path(), &settings(None), &myself()).is_err());
    assert!(!outside.exists());
    assert_eq!(
        std::fs::read_to_string(again.path().join("postgresql.conf")).expect("conf"),
        "shared_buffers = '64MB'\n"
    );
}

fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, body) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o600);
        header.set_cksum();
        builder.append_data(&mut header, name, *body).expect("append");
    }
    builder.into_inner().expect("tar")
}

fn stream_of(tar: Vec<u8>, ending: Option<&'static str>) -> ByteStream {
    let chunks: Vec<std::io::Result<Bytes>> = tar.chunks(1000).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    let ending = ending.map(|m| Err(std::io::Error::other(m)));
    futures::stream::iter(chunks.into_iter().chain(ending)).boxed()
}

#[tokio::test]
async fn a_base_backup_is_extracted_into_a_private_folder() {
    let parent = tempfile::tempdir().expect("dir");
    let data = parent.path().join("data");
    let tar = tar_of(&[("PG_VERSION", b"15\n"), ("base/1/1259", &[7u8; 5000]), ("global/pg_control", b"c")]);
    extract(&data, stream_of(tar, None), &myself()).await.expect("extract");
    assert_eq!(std::fs::read(data.join("PG_VERSION")).expect("read"), b"15\n");
    assert_eq!(std::fs::read(data.join("base/1/1259")).expect("read").len(), 5000);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&data).expect("meta").permissions().mode() & 0o777, 0o700);
}

#[tokio::test]
async fn a_hostile_or_broken_base_backup_is_refused() {
    let parent = tempfile::tempdir().expect("dir");
    let mut hostile = tar_of(&[("PG_VERSION", b"15\n")]);
    // A second archive's entry escaping the folder, spliced in before the end blocks.
    let mut header = tar::Header::new_gnu();
    header.as_gnu_mut().expect("gnu").name[..5].copy_from_slice(b"../x\0");
    header.set_size(1);
    header.set_cksum();
    hostile.truncate(hostile.len() - 1024);
    hostile.extend_from_slice(header.as_bytes());
    hostile.extend_from_slice(&[b'x'; 512]);
    hostile.extend_from_slice(&[0; 1024]);
    let refused = extract(&parent.path().join("a"), stream_of(hostile, None), &myself()).await;
    assert!(refused.expect_err("escapes").contains(".."));
    assert!(!parent.path().join("x").exists());

    let tar = tar_of(&[("PG_VERSION", b"15\n")]);
    let broken = extract(&parent.path().join("b"), stream_of(tar, Some("pg_basebackup failed: boom")), &myself()).await;
    assert!(broken.expect_err("the stream's error").contains("boom"));
}

#[test]
fn os_users_are_looked_up_by_plain_names() {
    let me = myself();
    assert_eq!(OsUser::lookup(&me.name), Ok(me.clone()));
    assert!(OsUser::lookup("-u").is_err());
    assert!(OsUser::lookup("no_such_user_devpilot").expect_err("unknown").contains("no OS user"));
    assert!(OsUser::lookup("a b").is_err());
    let chosen = OsUser::for_clusters(None).expect("a user for clusters");
    if me.uid == 0 {
        assert_eq!(chosen.name, "postgres");
    } else {
        assert_eq!(chosen, me);
    }
}

#[test]
fn the_log_tail_names_why_the_server_stopped() {
    let dir = tempfile::tempdir().expect("dir");
    let log = dir.path().join("log");
    let mut text = "LOG:  starting\n".repeat(500);
    text.push_str("LOG:  restored log file \"000000010000000000000005\"\n");
    text.push_str(&format!("FATAL:  {TARGET_NOT_REACHED}\nLOG:  startup process exited\n"));
    std::fs::write(&log, text).expect("log");
    let tail = log_tail(&log);
    assert!(tail.contains(TARGET_NOT_REACHED) && !tail.contains("starting"), "{tail}");
    std::fs::write(&log, "LOG:  a\nLOG:  b\n").expect("log");
    assert_eq!(log_tail(&log), "LOG:  a / LOG:  b");
    assert_eq!(log_path(Path::new("/clones/x/data")), Path::new("/clones/x/log"));
}

#[test]
fn a_socket_too_deep_for_its_address_is_left_out() {
    assert_eq!(socket_dir("/srv/devpilot-clones/0193f0a2/data", 20000), "/srv/devpilot-clones/0193f0a2/data");
    let deep = format!("/srv/{}/data", "d".repeat(100));
    assert_eq!(socket_dir(&deep, 20000), "");
}
