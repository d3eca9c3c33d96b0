//! The hostile tenant of `hostile_paths.rs` at run and restore time, against the real binary:
//! folders swapped for symbolic links after the plan (or destination) was saved, a destination
//! that serves other bytes than it stored, and a same-named plan in another workspace while an
//! upload is under way.

use crate::helpers::Backend;
use crate::hostile_paths::{Machine, machine, own_destination, plan_form, text};
use crate::on_both_backends;
use crate::runs::RunRow;
use std::os::unix::fs::symlink;
use std::time::Duration;

on_both_backends!(
    folders_swapped_for_links_after_the_check_are_not_followed,
    a_restore_reads_only_the_one_download_it_checked,
    a_same_named_plan_elsewhere_leaves_an_upload_alone
);

/// The id of the plan named `name` in the workspace named `workspace`.
pub async fn plan_in(m: &Machine, workspace: &str, name: &str) -> String {
    let (ws, name) = (m.app.workspace_id(workspace).await, name.to_owned());
    m.app
        .db()
        .run(move |c| {
            use devpilot::db::schema::plans::dsl;
            use diesel::prelude::*;
            dsl::plans.filter(dsl::workspace_id.eq(ws)).filter(dsl::name.eq(name)).select(dsl::id).first(c)
        })
        .await
        .expect("the plan")
}

/// The newest run of a plan, once it has ended.
pub async fn settled_run(m: &Machine, plan: &str) -> RunRow {
    for _ in 0..600 {
        let plan = plan.to_owned();
        let newest = m
            .app
            .db()
            .run(move |c| {
                use devpilot::db::schema::runs::dsl::*;
                use diesel::prelude::*;
                runs.filter(plan_id.eq(plan))
                    .order(created_at.desc())
                    .select((id, plan_id, status, trigger, bytes, sha256, object_key, error, pruned_at.is_not_null()))
                    .first::<(String, String, String, String, i64, Option<String>, Option<String>, Option<String>, bool)>(
                        c,
                    )
                    .optional()
            })
            .await
            .expect("runs");
        if let Some((id, plan_id, status, trigger, bytes, sha256, object_key, error, pruned)) = newest
            && status != "queued"
            && status != "running"
        {
            return RunRow { id, plan_id, status, trigger, bytes, sha256, object_key, error, pruned };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the run of {plan} did not end");
}

/// Runs Mallory's plan `name` now and waits for it to end.
pub async fn run_plan(m: &Machine, name: &str) -> RunRow {
    let plan = plan_in(m, "Mallory", name).await;
    let before = run_count(m, &plan).await;
    assert_eq!(m.mallory_posts(&format!("/plans/{plan}/run"), &[]).await.status, 303);
    loop {
        let run = settled_run(m, &plan).await;
        if run_count(m, &plan).await > before {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn run_count(m: &Machine, plan: &str) -> i64 {
    let plan = plan.to_owned();
    let db = m.app.db();
    db.run(move |c| {
        use devpilot::db::schema::runs::dsl::*;
        use diesel::prelude::*;
        runs.filter(plan_id.eq(plan)).count().get_result::<i64>(c)
    })
    .await
    .expect("count")
}

/// Every file below a folder, as sorted relative paths.
fn files_below(folder: &std::path::Path) -> Vec<String> {
    let mut found: Vec<String> =
        walk(folder).iter().map(|p| p.strip_prefix(folder).expect("below").display().to_string()).collect();
    found.sort();
    found
}

fn walk(folder: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else { return Vec::new() };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let kind = entry.file_type().expect("type");
        if kind.is_dir() { files.extend(walk(&entry.path())) } else { files.push(entry.path()) }
    }
    files
}

async fn folders_swapped_for_links_after_the_check_are_not_followed(backend: Backend) {
    let m = machine(backend).await;
    let own = own_destination(&m).await;
    let own_folder = m.data().join("backups").join(m.mallory_workspace().await);
    // Saved while everything is a plain folder or file of hers.
    let docs = m.at("granted/docs").display().to_string();
    assert_eq!(m.mallory_posts("/plans", &plan_form("Docs", "directory", &docs, &own)).await.status, 303);
    let app_db = m.at("granted/app.db");
    write_sqlite(&app_db);
    let db = app_db.display().to_string();
    assert_eq!(m.mallory_posts("/plans", &plan_form("Db", "sqlite", &db, &own)).await.status, 303);
    let store = m.at("granted/store");
    std::fs::create_dir(&store).expect("mkdir");
    let form = [("name", "Store"), ("type", "local"), ("config.path", &store.display().to_string())];
    assert_eq!(m.mallory_posts("/destinations", &form).await.status, 303);
    let store_id = m.app.destination("Store").await.id;
    let other_docs = m.at("granted/other-docs");
    std::fs::create_dir(&other_docs).expect("mkdir");
    std::fs::write(other_docs.join("a.txt"), b"a").expect("write");
    let other = other_docs.display().to_string();
    assert_eq!(m.mallory_posts("/plans", &plan_form("To store", "directory", &other, &store_id)).await.status, 303);
    let own_before = files_below(&own_folder);

    // Then swapped: the folder for a link to Devpilot's data folder, the database file for a link
    // to Devpilot's key, the destination's folder for a link to a folder nobody was granted.
    std::fs::rename(m.at("granted/docs"), m.at("granted/docs-was")).expect("move");
    symlink(m.data(), m.at("granted/docs")).expect("symlink");
    std::fs::remove_file(&app_db).expect("rm");
    symlink(m.data().join("master.key"), &app_db).expect("symlink");
    std::fs::remove_dir(&store).expect("rmdir");
    symlink(m.at("outside"), &store).expect("symlink");
    for plan in ["Docs", "Db", "To store"] {
        let run = run_plan(&m, plan).await;
        assert_eq!(run.status, "failed", "{plan}: {run:?}");
        // Refused as a link met on the way, or (when the link's target is looked up first) as
        // Devpilot's own: either way before anything is opened through it.
        let error = run.error.unwrap_or_default();
        assert!(error.contains("symbolic link") || error.contains("Devpilot's"), "{plan}: {error}");
    }
    assert_eq!(files_below(&own_folder), own_before, "nothing was uploaded from Devpilot's folder");
    assert_eq!(files_below(&m.at("outside")), ["secret.txt"], "nothing was written through the link");
}

fn write_sqlite(path: &std::path::Path) {
    use diesel::{Connection, RunQueryDsl, SqliteConnection};
    let _ = std::fs::remove_file(path);
    let mut connection = SqliteConnection::establish(&path.display().to_string()).expect("sqlite");
    diesel::sql_query("CREATE TABLE notes (body TEXT)").execute(&mut connection).expect("create");
    diesel::sql_query("INSERT INTO notes VALUES ('hello')").execute(&mut connection).expect("insert");
}

async fn a_restore_reads_only_the_one_download_it_checked(backend: Backend) {
    let m = machine(backend).await;
    let fields = [
        ("name", "Cloud"),
        ("type", "cloudinary"),
        ("config.cloud_name", crate::provider_cloudinary::CLOUD),
        ("config.api_key", crate::provider_cloudinary::API_KEY),
        ("config.api_secret", crate::provider_cloudinary::API_SECRET),
    ];
    assert_eq!(m.mallory_posts("/destinations", &fields).await.status, 303);
    let cloud = m.app.destination("Cloud").await;
    assert_eq!(cloud.status, "active", "{}", cloud.message);
    let docs = m.at("granted/docs").display().to_string();
    assert_eq!(m.mallory_posts("/plans", &plan_form("Docs", "directory", &docs, &cloud.id)).await.status, 303);
    let run = run_plan(&m, "Docs").await;
    assert_eq!(run.status, "succeeded", "{run:?}");
    let restore = format!("/runs/{}/restore", run.id);

    // Different bytes from the first download on: refused on the checksum, nothing written.
    m.cloudinary.tamper_from(1);
    let before = crate::fingerprint::state(&m.app).await;
    let target = m.at("granted/restored");
    let page = m.mallory_posts(&restore, &[("target", &target.display().to_string())]).await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(text(&page).contains("checksum mismatch"), "{}", text(&page));
    assert!(!target.exists(), "nothing restored from bytes that do not match");
    assert_eq!(crate::fingerprint::state(&m.app).await, before, "the private download is gone");

    // Different bytes from the second download on: there is none. One download, checked, and the
    // restore reads what was checked.
    m.cloudinary.tamper_from(2);
    let served = m.cloudinary.deliveries();
    let page = m.mallory_posts(&restore, &[("target", &target.display().to_string())]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(m.cloudinary.deliveries() - served, 1, "the artifact was downloaded once");
    assert_eq!(std::fs::read(target.join("report.txt")).expect("restored"), b"quarterly numbers");
    assert_eq!(crate::fingerprint::state(&m.app).await, before, "no private copy is left behind");
}

async fn a_same_named_plan_elsewhere_leaves_an_upload_alone(backend: Backend) {
    let m = machine(backend).await;
    // Both workspaces back up into the same granted folder, each with a plan named "Nightly".
    let shared = m.at("granted/shared");
    std::fs::create_dir(&shared).expect("mkdir");
    m.app.grant_folder(&shared, "read_write").await;
    m.app.grant_folder(&m.at("granted/docs"), "read").await;
    let big = m.at("big");
    std::fs::create_dir(&big).expect("mkdir");
    std::fs::write(big.join("random.bin"), crate::killed_destination::pseudo_random(160 << 20)).expect("write");
    m.app.grant_folder(&big, "read").await;
    let shared_path = shared.display().to_string();
    let store = [("name", "Shared"), ("type", "local"), ("config.path", shared_path.as_str())];
    assert_eq!(m.app.post("/destinations", &store).await.status, 303);
    assert_eq!(
        m.mallory_posts("/destinations", &[("name", "Mine"), ("type", "local"), ("config.path", &shared_path)])
            .await
            .status,
        303
    );
    let (acme_store, mallory_store) = (m.app.destination("Shared").await.id, m.app.destination("Mine").await.id);
    let big_path = big.display().to_string();
    assert_eq!(m.app.post("/plans", &plan_form("Nightly", "directory", &big_path, &acme_store)).await.status, 303);
    let gone = m.at("granted/gone");
    std::fs::create_dir(&gone).expect("mkdir");
    let gone_path = gone.display().to_string();
    assert_eq!(
        m.mallory_posts("/plans", &plan_form("Nightly", "directory", &gone_path, &mallory_store)).await.status,
        303
    );
    // Her plan has a failed run behind it, so her next run looks for leftovers to remove.
    std::fs::remove_dir(&gone).expect("rmdir");
    assert_eq!(run_plan(&m, "Nightly").await.status, "failed");
    std::fs::create_dir(&gone).expect("mkdir");
    std::fs::write(gone.join("b.txt"), b"b").expect("write");

    let acme_plan = plan_in(&m, "Acme", "Nightly").await;
    assert_eq!(m.app.post(&format!("/plans/{acme_plan}/run"), &[]).await.status, 303);
    let uploading = shared.join("nightly");
    let partial = || {
        std::fs::read_dir(&uploading)
            .map(|d| d.flatten().any(|e| devpilot::providers::is_partial_name(&e.file_name().to_string_lossy())))
            .unwrap_or(false)
    };
    for _ in 0..300 {
        if partial() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(partial(), "Acme's upload is under way");
    let hers = run_plan(&m, "Nightly").await;
    assert_eq!(hers.status, "succeeded", "{hers:?}");
    assert!(partial(), "Acme's partial upload is gone after her run's clean-up (or her run outlasted it)");
    let acme = crate::hostile_runs::settled_run(&m, &acme_plan).await;
    assert_eq!(acme.status, "succeeded", "Acme's upload was not cut short: {acme:?}");
    let key = acme.object_key.expect("key");
    assert!(shared.join(&key).is_file(), "Acme's artifact is there");
}
