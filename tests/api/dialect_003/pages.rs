//! Pages of 15 (or `per_page`), `links` and `meta` as spec 003 shows them; integer ids that
//! name one destination each, the UUID accepted beside them.

use super::{BASE, assert_dialect_error, field_errors};
use crate::api_client::admin;
use crate::helpers::{Backend, spawn_app};
use crate::on_both_backends;
use serde_json::{Value, json};

on_both_backends!(sixteen_destinations_make_two_pages);

async fn sixteen_destinations_make_two_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    app.grant_folder(dir.path(), "read_write").await;
    let mut numbers = Vec::new();
    for i in 0..16 {
        let folder = dir.path().join(format!("d{i:02}"));
        std::fs::create_dir(&folder).expect("folder");
        let body = json!({"label": format!("Disk {i:02}"), "type": "local", "path": folder.to_string_lossy()});
        let reply = api.post(BASE, body).await;
        assert_eq!(reply.status, 201, "{reply:?}");
        assert_eq!(reply.json["data"]["type_human"], "Local");
        assert_eq!(reply.json["data"]["path"], json!(folder.to_string_lossy()));
        assert!(reply.json["data"].get("s3_bucket_name").is_none(), "no S3 fields on local: {reply:?}");
        numbers.push(reply.json["data"]["id"].as_i64().expect("an integer id"));
    }
    let mut unique = numbers.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 16, "each its own number: {numbers:?}");

    let path = app.url(BASE);
    let first = api.get(BASE).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.json["data"].as_array().map(Vec::len), Some(15));
    assert_eq!(
        first.json["links"],
        json!({"first": format!("{path}?page=1"), "last": format!("{path}?page=2"), "prev": null,
            "next": format!("{path}?page=2")})
    );
    assert_eq!(
        first.json["meta"],
        json!({"current_page": 1, "from": 1, "last_page": 2, "path": path, "per_page": 15, "to": 15, "total": 16})
    );
    let second = api.get(&format!("{BASE}?page=2")).await;
    assert_eq!(second.json["data"].as_array().map(Vec::len), Some(1), "{second:?}");
    assert_eq!((second.json["meta"]["from"].clone(), second.json["meta"]["to"].clone()), (json!(16), json!(16)));
    assert_eq!(second.json["links"]["prev"], json!(format!("{path}?page=1")));
    assert_eq!(second.json["links"]["next"], Value::Null);
    let labels: Vec<Value> = [&first, &second]
        .iter()
        .flat_map(|p| p.json["data"].as_array().cloned().unwrap_or_default())
        .map(|d| d["label"].clone())
        .collect();
    let expected: Vec<Value> = (0..16).map(|i| json!(format!("Disk {i:02}"))).collect();
    assert_eq!(labels, expected, "every destination once, in the list's order");

    // A size other than 15 is kept in the links; past the end, an empty page.
    let fives = api.get(&format!("{BASE}?per_page=5&page=4")).await;
    assert_eq!(fives.json["data"].as_array().map(Vec::len), Some(1), "{fives:?}");
    assert_eq!(fives.json["links"]["prev"], json!(format!("{path}?page=3&per_page=5")));
    assert_eq!(fives.json["meta"]["last_page"], 4);
    let beyond = api.get(&format!("{BASE}?page=9")).await;
    assert_eq!((beyond.status, beyond.json["data"].clone()), (200, json!([])), "{beyond:?}");
    assert_eq!((beyond.json["meta"]["from"].clone(), beyond.json["meta"]["to"].clone()), (Value::Null, Value::Null));
    for (query, field) in [("page=0", "page"), ("per_page=101", "per_page"), ("per_page=abc", "per_page")] {
        let reply = api.get(&format!("{BASE}?{query}")).await;
        let errors = field_errors(&reply);
        assert_eq!(errors[0].0, field, "{query}: {reply:?}");
        assert!(reply.json["message"].as_str().is_some_and(|m| m.starts_with(field)), "{reply:?}");
    }

    // The number and the UUID name the same destination; nothing else does.
    let one = api.get(&format!("{BASE}/{}", numbers[3])).await;
    assert_eq!(one.json["data"]["label"], "Disk 03", "{one:?}");
    let uuid = api.get("/api/v1/backup-destinations?per_page=100").await.json["data"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["name"] == "Disk 03").map(|d| d["id"].clone()))
        .expect("its UUID");
    let by_uuid = api.get(&format!("{BASE}/{}", uuid.as_str().unwrap_or_default())).await;
    assert_eq!(by_uuid.json, one.json);
    let unused = numbers.iter().max().copied().unwrap_or_default() + 1000;
    for id in [unused.to_string(), "0".into(), "-1".into(), "abc".into(), "1.5".into()] {
        assert_dialect_error(&api.get(&format!("{BASE}/{id}")).await, 404, "Backup destination not found");
    }
}
