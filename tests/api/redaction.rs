//! Secrets never leave the server: not in HTML, not in logs, not in plaintext columns, not in
//! the audit log; the credentials column opens only with the right key and the right row. An
//! Azure SAS's signature included: a real one, refused by Azurite (signed for another
//! container) and accepted by it (deep-tested), so Azure's own answers pass through too.

use crate::azure_sas::{Signed, signature_of, tomorrow};
use crate::helpers::{Backend, Form, captured_logs, moto, spawn_app};
use crate::on_both_backends;
use base64::Engine;
use devpilot::crypto::{CredentialCipher, MasterKey};
use devpilot::destinations::service::associated_data;

on_both_backends!(secrets_of_every_type_never_come_back);

fn marker(tag: &str) -> String {
    format!("{tag}{}", uuid::Uuid::new_v4().simple())
}

async fn secrets_of_every_type_never_come_back(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let m = moto();
    let s3_key = marker("AKIA").to_uppercase();
    let s3_secret = marker("s3secret");
    let azure_key = base64::engine::general_purpose::STANDARD.encode(marker("azurekey"));
    let a = crate::provider_azure::azurite();
    let needed = devpilot::providers::azure_blob::needed_letters();
    let sas_for = |container| {
        crate::azure_sas::sas(&a, &Signed::Container { container, permissions: &needed, expiry: tomorrow() })
    };
    let (sas_elsewhere, sas_good) = (sas_for("another-container"), sas_for(&a.container));
    let (sig_elsewhere, sig_good) = (signature_of(&sas_elsewhere), signature_of(&sas_good));
    // As stored and sent (URL-encoded), and decoded.
    let encoded = |sig: &str| url::form_urlencoded::byte_serialize(sig.as_bytes()).collect::<String>();
    let (sig_elsewhere_sent, sig_good_sent) = (encoded(&sig_elsewhere), encoded(&sig_good));
    let azure_sas = |token| {
        vec![
            ("account_name", a.account.as_str()),
            ("container", a.container.as_str()),
            ("endpoint", a.endpoint.as_str()),
            ("sas_token", token),
        ]
    };
    let sftp_password = marker("sftppw");
    let sftp_key =
        format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----", marker("sftpkey"));
    let sftp_passphrase = marker("sftppass");
    let gcs_token = marker("ya29gcs");
    let gcs_private = marker("gcsprivate");
    let gcs_sa = format!(
        r#"{{"type":"service_account","client_email":"backup@proj.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----\n{gcs_private}\n-----END PRIVATE KEY-----\n"}}"#
    );
    let drive_access = marker("ya29drive");
    let drive_refresh = marker("refresh");
    let drive_client_secret = marker("clientsecret");
    let (onedrive_secret, onedrive_refresh) = (marker("odsecret"), marker("M.R3_od"));
    let cloud_key = format!("{}", 100_000_000_000u64 + u64::from(rand_u32()));
    let cloud_secret = marker("cloudsecret");

    let destinations: Vec<(&str, &str, Form)> = vec![
        ("S3", "s3", {
            let mut f = m.fields(&s3_key, &s3_secret, &m.bucket);
            f.retain(|(k, _)| *k != "access_key_id" && *k != "secret_access_key");
            f.extend([("access_key_id", s3_key.as_str()), ("secret_access_key", s3_secret.as_str())]);
            f
        }),
        (
            "Azure",
            "azure_blob",
            vec![
                ("account_name", "acct1"),
                ("container", "backups"),
                ("endpoint", "http://127.0.0.1:9/acct1"),
                ("account_key", &azure_key),
            ],
        ),
        ("Azure SAS elsewhere", "azure_blob", azure_sas(&sas_elsewhere)),
        ("Azure SAS", "azure_blob", azure_sas(&sas_good)),
        (
            "SFTP",
            "sftp",
            vec![
                ("host", "127.0.0.1"),
                ("port", "2222"),
                ("directory", "/srv"),
                ("username", "deploy"),
                ("password", &sftp_password),
                ("private_key", &sftp_key),
                ("passphrase", &sftp_passphrase),
            ],
        ),
        ("GCS", "gcs", vec![("bucket", "bucket-1"), ("access_token", &gcs_token), ("service_account_key", &gcs_sa)]),
        (
            "Drive",
            "google_drive",
            vec![
                ("folder_id", "folder1"),
                ("access_token", &drive_access),
                ("refresh_token", &drive_refresh),
                ("client_id", "client.apps.googleusercontent.com"),
                ("client_secret", &drive_client_secret),
            ],
        ),
        (
            "Cloudinary",
            "cloudinary",
            vec![("cloud_name", "demo"), ("api_key", &cloud_key), ("api_secret", &cloud_secret)],
        ),
        (
            "OneDrive",
            "onedrive",
            vec![("client_id", "od-app"), ("client_secret", &onedrive_secret), ("refresh_token", &onedrive_refresh)],
        ),
    ];
    let secrets = [
        &s3_key,
        &s3_secret,
        &azure_key,
        &sig_elsewhere,
        &sig_good,
        &sig_elsewhere_sent,
        &sig_good_sent,
        &sftp_password,
        &sftp_passphrase,
        &gcs_token,
        &gcs_private,
        &drive_access,
        &drive_refresh,
        &drive_client_secret,
        &cloud_key,
        &cloud_secret,
        &onedrive_secret,
        &onedrive_refresh,
    ];
    let sftp_key_body = sftp_key.lines().nth(1).unwrap_or_default().to_owned();
    let leaks = |text: &str| -> Vec<String> {
        secrets
            .iter()
            .map(|s| s.as_str())
            .chain([sftp_key_body.as_str()])
            .filter(|s| text.contains(*s))
            .map(str::to_owned)
            .collect()
    };

    let mut bodies = Vec::new();
    for (name, kind, fields) in &destinations {
        // What the browser sends while the form is filled: the type picker and Test credentials.
        let mut form: Vec<(String, String)> = vec![("name".into(), (*name).into()), ("type".into(), (*kind).into())];
        form.extend(fields.iter().map(|(k, v)| (format!("config.{k}"), (*v).to_owned())));
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        bodies.push(app.htmx_post("/destinations/fields", &pairs).await.body);
        bodies.push(app.htmx_post("/destinations/test-credentials", &pairs).await.body);
        let created = app.create_destination(name, kind, fields).await;
        assert_eq!(created.status, 303, "{name}: {}", created.body);
        // A failed save shows the form again: secrets are not echoed there either.
        let failed = app.create_destination("", kind, fields).await;
        assert_eq!(failed.status, 422);
        bodies.push(failed.body);
    }
    bodies.push(app.get("/destinations").await.body);
    let rows = app.destination_rows().await;
    assert_eq!(rows.len(), destinations.len());
    for row in &rows {
        bodies.push(app.get(&format!("/destinations/{}/edit", row.id)).await.body);
        bodies.push(app.get(&format!("/destinations/{}", row.id)).await.body);
        bodies.push(app.htmx_post(&format!("/destinations/{}/test", row.id), &[]).await.body);
        let deep = format!("/api/v1/backup-destinations/{}/test?deep=true", row.id);
        bodies.push(crate::api_client::admin(&app).await.post(&deep, serde_json::json!({})).await.json.to_string());
    }
    let elsewhere = app.destination("Azure SAS elsewhere").await;
    assert!(elsewhere.message.contains("not accepted for container"), "Azure's refusal: {}", elsewhere.message);
    let good = app.destination("Azure SAS").await;
    assert_eq!(good.status, "active", "deep-tested: {}", good.message);
    bodies.push(app.get("/destinations").await.body);
    bodies.push(app.get("/audit").await.body);
    let events = crate::api_client::admin(&app).await.get("/api/v1/audit-events?per_page=100").await;
    assert_eq!(events.status, 200, "{events:?}");
    bodies.push(events.json.to_string());
    for body in &bodies {
        assert!(leaks(body).is_empty(), "a secret appeared in a page: {:?}", leaks(body));
    }
    assert!(bodies.iter().any(|b| b.contains("A value is stored")), "edit forms say a secret is stored");

    let logs = captured_logs();
    assert!(!logs.is_empty(), "logs were captured");
    assert!(leaks(&logs).is_empty(), "a secret appeared in the logs: {:?}", leaks(&logs));

    // Plaintext columns hold no secret; the ciphertext does not contain one either.
    let cipher = CredentialCipher::new(MasterKey::from_base64(&app.master_key).expect("key"));
    let other_key = CredentialCipher::new(MasterKey::generate());
    for row in &rows {
        for column in [&row.name, &row.settings, &row.message, &row.status] {
            assert!(leaks(column).is_empty(), "{}: secret in a plaintext column", row.name);
        }
        assert!(
            leaks(&String::from_utf8_lossy(&row.credentials)).is_empty(),
            "{}: secret visible in ciphertext",
            row.name
        );
        let aad = associated_data(&row.workspace_id, &row.id);
        let plain = cipher.open(&row.credentials, &aad).expect("opens with the right key and row");
        assert!(!leaks(&String::from_utf8_lossy(&plain)).is_empty(), "{}: the secrets are in there", row.name);
        assert!(other_key.open(&row.credentials, &aad).is_err(), "another key cannot open it");
        let other_row = rows.iter().find(|r| r.id != row.id).expect("another row");
        assert!(cipher.open(&row.credentials, &associated_data(&other_row.workspace_id, &other_row.id)).is_err());
    }

    // Copying one row's ciphertext onto another makes that row unreadable, not a leak.
    let (from, to) = (rows[0].clone(), rows[1].clone());
    app.db()
        .run(move |c| {
            use devpilot::db::schema::destinations::dsl::*;
            use diesel::prelude::*;
            diesel::update(destinations.filter(id.eq(&to.id))).set(credentials.eq(&from.credentials)).execute(c)
        })
        .await
        .expect("copy");
    let tested = app.htmx_post(&format!("/destinations/{}/test", rows[1].id), &[]).await;
    assert_eq!(tested.status, 200);
    assert!(tested.body.contains("failed to decrypt"), "a swapped ciphertext is refused: {}", tested.body);
    assert_eq!(app.destination(&rows[1].name).await.status, "failed");

    // On SQLite the database file itself never holds a secret in the clear.
    if backend == Backend::Sqlite {
        for file in ["devpilot.db", "devpilot.db-wal"] {
            let path = app.data_dir.path().join(file);
            if let Ok(bytes) = std::fs::read(&path) {
                assert!(leaks(&String::from_utf8_lossy(&bytes)).is_empty(), "{file} holds a secret in the clear");
            }
        }
    }
}

fn rand_u32() -> u32 {
    uuid::Uuid::new_v4().as_u128() as u32
}
