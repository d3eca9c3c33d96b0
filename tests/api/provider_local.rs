//! Local disk in the conformance suite.

use crate::conformance::{self, Fixture, fields};
use crate::helpers::Backend;
use crate::on_both_backends;
use devpilot::providers::ProviderKind;

pub fn fixture() -> (Fixture, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let good = dir.path().join("good");
    std::fs::create_dir_all(&good).expect("mkdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").expect("write");
    let good = good.to_string_lossy().into_owned();
    let missing = dir.path().join("missing").to_string_lossy().into_owned();
    let not_folder = file.to_string_lossy().into_owned();
    let mut fixture = Fixture::new(ProviderKind::Local, fields(&[("path", &good)]))
        .bad("Missing folder", fields(&[("path", &missing)]), "does not exist")
        .bad("A file", fields(&[("path", &not_folder)]), "is not a folder");
    fixture.grant = Some(dir.path().to_path_buf());
    (fixture, dir)
}

on_both_backends!(local_conformance);

async fn local_conformance(backend: Backend) {
    let (fixture, _dir) = fixture();
    conformance::ui_cases(&fixture, backend).await;
}

#[tokio::test]
async fn local_round_trip() {
    let (fixture, dir) = fixture();
    conformance::round_trip(&fixture).await;
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("good")).expect("dir").flatten().collect();
    assert!(leftovers.is_empty(), "no partial or leftover files remain: {leftovers:?}");
    let p = conformance::provider(&fixture, &fixture.good, dir.path());
    assert!(p.get("../escape").await.is_err(), "keys cannot leave the folder");
}
