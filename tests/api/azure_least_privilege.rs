//! Least privilege at Azure (issue 15), against Azurite, which checks SAS signatures and
//! permissions:
//! - a container SAS with exactly the permissions the form's panel shows lets the test, the deep
//!   test, runs, retention, download and restore succeed, with no over-privilege warning; the
//!   account key and an account SAS that can do more are warned about;
//! - a SAS lacking a permission, an expired one, text that is no SAS, and a token carrying other
//!   query parameters (which would change what Devpilot's requests do) are refused next to the
//!   field (page and API); a SAS whose stored access policy lacks write passes the test and
//!   fails the deep test saying which operation was refused and which permission it needs; a
//!   token that expires after it was saved fails the test saying when;
//! - a SAS entered on a destination that had the account key replaces it: the key is not kept.

use crate::all_operations::{Download, runs_prune_download_restore};
use crate::api_client::admin;
use crate::azure_sas::{Signed, access_policy, container, sas, signature_of, tomorrow};
use crate::helpers::{Backend, TestApp, spawn_app};
use crate::on_both_backends;
use crate::provider_azure::{Azurite, azurite};
use serde_json::{Value, json};

on_both_backends!(the_sas_shown_is_enough_on_azurite, sas_refusals_say_why, a_sas_replaces_the_account_key);

fn fields<'a>(a: &'a Azurite, prefix: &'a str, credential: (&'a str, &'a str)) -> Vec<(&'a str, &'a str)> {
    vec![
        ("account_name", &a.account),
        ("container", &a.container),
        ("prefix", prefix),
        ("endpoint", &a.endpoint),
        credential,
    ]
}

/// The panel's text for the container and prefix typed, HTML entities decoded.
async fn panel(app: &TestApp, a: &Azurite, prefix: &str) -> String {
    let form = [
        ("type", "azure_blob"),
        ("config.account_name", a.account.as_str()),
        ("config.container", a.container.as_str()),
        ("config.prefix", prefix),
        ("config.endpoint", a.endpoint.as_str()),
    ];
    let panel = app.htmx_post("/destinations/policy", &form).await;
    assert_eq!(panel.status, 200, "{}", panel.body);
    let text = &panel.body[panel.body.find("class=\"policy-text\"").expect("policy text")..];
    let text = &text[text.find('>').expect("tag") + 1..text.find("</pre>").expect("end")];
    text.replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// Creates an Azure destination through the form (it must test Active), deep-tests it through
/// the API; returns its id, the API's answer and the destination page.
async fn deep_tested(app: &TestApp, name: &str, form: &[(&str, &str)]) -> (String, Value, String) {
    let created = app.create_destination(name, "azure_blob", form).await;
    assert_eq!(created.status, 303, "{name}: {}", created.body);
    let row = app.destination(name).await;
    assert_eq!(row.status, "active", "{name}: {}", row.message);
    let path = format!("/api/v1/backup-destinations/{}/test?deep=true", row.id);
    let reply = admin(app).await.post(&path, json!({})).await;
    let page = app.get(&format!("/destinations/{}", row.id)).await;
    assert_eq!(page.status, 200);
    (row.id, reply.json, page.body)
}

fn warnings(reply: &Value) -> Vec<String> {
    let list = reply["data"]["compatibility"]["warnings"].as_array().unwrap_or_else(|| panic!("no report: {reply}"));
    list.iter().filter_map(Value::as_str).map(str::to_owned).collect()
}

async fn the_sas_shown_is_enough_on_azurite(backend: Backend) {
    let a = azurite();
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let prefix = format!("least-{}/", uuid::Uuid::new_v4().simple());
    let shown = panel(&app, &a, &prefix).await;
    let first = shown.lines().next().unwrap_or_default();
    assert!(first.starts_with(&format!("Container SAS (sr=c) on {}", a.container)), "{shown}");
    let letters = first.rsplit("permissions: ").next().expect("the permissions shown").trim();
    assert!(shown.contains(&format!("StringStartsWith '{prefix}'")), "the role is limited to the prefix: {shown}");

    // A container SAS with exactly those permissions: test, deep test, no warning.
    let token = sas(&a, &Signed::Container { container: &a.container, permissions: letters, expiry: tomorrow() });
    let (id, reply, page) = deep_tested(&app, "Least privilege", &fields(&a, &prefix, ("sas_token", &token))).await;
    assert_eq!(reply["test"]["ok"], true, "{reply}");
    assert_eq!(warnings(&reply), Vec::<String>::new());
    let row = app.destination("Least privilege").await;
    assert!(!row.message.contains("Warning"), "{}", row.message);
    assert!(!page.contains("class=\"warning\""), "{page}");
    assert!(page.contains(&format!("container SAS for “{}”, permissions {letters}", a.container)), "{page}");
    let listing = &page[page.find("finding cut-off uploads").expect("the clean-up listing checked")..];
    assert!(listing[..listing.find("</tr>").unwrap_or(0)].contains("works"), "{listing}");

    // Runs with retention 1 (the second prunes the first), download (streamed through Devpilot:
    // a SAS signs no links, and its own must not be handed out) and restore.
    assert_eq!(runs_prune_download_restore(&app, &id, "Least").await, Download::Streamed);

    // The account key, and an account SAS with more than needed, are warned about.
    let (_, reply, page) = deep_tested(&app, "Account key", &fields(&a, &prefix, ("account_key", &a.key))).await;
    assert!(warnings(&reply).iter().any(|w| w.contains("The account key can do everything")), "{reply}");
    assert!(page.contains("class=\"warning\"") && page.contains("Use a container SAS with permissions rwdl"));
    let row = app.destination("Account key").await;
    assert!(row.message.contains("Warning: The account key can do everything"), "{}", row.message);

    let wide = Signed::Account { services: "bqt", resource_types: "sco", permissions: "rwdlac", expiry: tomorrow() };
    let (_, reply, _) = deep_tested(&app, "Account SAS", &fields(&a, &prefix, ("sas_token", &sas(&a, &wide)))).await;
    let found = warnings(&reply).join(" ");
    assert!(found.contains("is an account SAS: it reaches every container"), "{found}");
    assert!(found.contains("service-level requests (srt=s)"), "{found}");
    assert!(found.contains("also opens Queues, Tables"), "{found}");
    assert!(found.contains("also allows a (add), c (create): Devpilot needs only rwdl"), "{found}");
}

async fn sas_refusals_say_why(backend: Backend) {
    let a = azurite();
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let signed = |permissions, expiry| sas(&a, &Signed::Container { container: &a.container, permissions, expiry });
    let expired_at = chrono::Utc::now() - chrono::Duration::hours(2);
    let cases = [
        (signed("rl", tomorrow()), "lacks w (write: uploads"),
        (signed("rwl", tomorrow()), "lacks d (delete: retention"),
        (signed("rwdl", expired_at), &format!("expired on {}", expired_at.format("%Y-%m-%d %H:%M UTC"))),
        ("account_key=abc".to_owned(), "This is not a SAS token"),
        // The pairs go on every request: nothing that changes what a request does.
        (format!("{}&restype=service&comp=properties", signed("rwdl", tomorrow())), "“restype”"),
    ];
    for (token, why) in &cases {
        let page = app.create_destination("Refused", "azure_blob", &fields(&a, "", ("sas_token", token))).await;
        assert_eq!(page.status, 422, "{why}: {}", page.body);
        let at = page.body.find("id=\"f-sas_token-error\"").unwrap_or_else(|| panic!("no field error: {}", page.body));
        assert!(page.body[at..].split("</div>").next().unwrap_or_default().contains(why), "{why}: {}", page.body);
        if token.contains("sig=") {
            assert!(!page.body.contains(&signature_of(token)), "the form does not show the token again");
        }
        let mut config: serde_json::Map<String, Value> =
            fields(&a, "", ("sas_token", token)).into_iter().map(|(k, v)| (k.to_owned(), json!(v))).collect();
        config.remove("prefix");
        let body = json!({"name": "Refused", "destinationType": "azure_blob", "config": config});
        let reply = admin(&app).await.post("/api/v1/backup-destinations", body).await;
        assert_eq!(reply.status, 422, "{reply:?}");
        let field = reply.json["fields"]["config.sas_token"].as_str().unwrap_or_default();
        assert!(field.contains(why), "{why}: {reply:?}");
    }
    assert!(app.destination_rows().await.is_empty(), "nothing refused was stored");

    // A token that expires after it was saved: the test (and every run) fails saying when.
    let soon = chrono::Utc::now() + chrono::Duration::seconds(4);
    let brief = signed("rwdl", soon);
    assert_eq!(app.create_destination("Brief", "azure_blob", &fields(&a, "", ("sas_token", &brief))).await.status, 303);
    let row = app.destination("Brief").await;
    assert_eq!(row.status, "active", "{}", row.message);
    tokio::time::sleep((soon - chrono::Utc::now()).to_std().unwrap_or_default() + std::time::Duration::from_secs(1))
        .await;
    let reply = admin(&app).await.post(&format!("/api/v1/backup-destinations/{}/test", row.id), json!({})).await;
    assert_eq!(reply.status, 422, "{reply:?}");
    let expired = format!("The SAS token expired on {}: create a new one", soon.format("%Y-%m-%d %H:%M UTC"));
    assert!(reply.json["test"]["message"].as_str().unwrap_or_default().contains(&expired), "{reply:?}");

    // Permissions held by a stored access policy are not in the token: the deep test finds the
    // missing one, and says which.
    let box_name = "devpilot-sas-policy";
    container(&a, box_name).await;
    access_policy(&a, box_name, "readlist", "rl").await;
    let token = sas(&a, &Signed::Policy { container: box_name, identifier: "readlist" });
    let mut form = fields(&a, "", ("sas_token", &token));
    form.retain(|(k, _)| *k != "container");
    form.push(("container", box_name));
    let created = app.create_destination("Read and list", "azure_blob", &form).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let row = app.destination("Read and list").await;
    assert_eq!(row.status, "active", "listing is allowed: {}", row.message);
    let path = format!("/api/v1/backup-destinations/{}/test?deep=true", row.id);
    let reply = admin(&app).await.post(&path, json!({})).await;
    assert_eq!(reply.status, 422, "{reply:?}");
    let message = reply.json["test"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("AuthorizationPermissionMismatch:"), "{message}");
    assert!(
        message.contains(
            "The SAS token (stored access policy “readlist”) does not allow writing a blob: it needs permission w"
        ),
        "{message}"
    );
    let failed: Vec<&Value> =
        reply.json["test"]["steps"].as_array().expect("steps").iter().filter(|s| s["state"] == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["step"], "write probe", "{reply:?}");
    assert!(reply.json["test"]["hint"].as_str().unwrap_or_default().contains("permissions Least privilege shows"));
    assert!(!message.contains(&signature_of(&token)), "{message}");
}

async fn a_sas_replaces_the_account_key(backend: Backend) {
    use devpilot::crypto::{CredentialCipher, MasterKey};
    use devpilot::destinations::service::associated_data;
    let a = azurite();
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let created = app.create_destination("Switch", "azure_blob", &fields(&a, "", ("account_key", &a.key))).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let row = app.destination("Switch").await;
    let needed = devpilot::providers::azure_blob::needed_letters();
    let token = sas(&a, &Signed::Container { container: &a.container, permissions: &needed, expiry: tomorrow() });
    let mut form = vec![("name", "Switch"), ("type", "azure_blob")];
    let config: Vec<(String, &str)> =
        fields(&a, "", ("sas_token", &token)).into_iter().map(|(k, v)| (format!("config.{k}"), v)).collect();
    form.extend(config.iter().map(|(k, v)| (k.as_str(), *v)));
    let updated = app.post(&format!("/destinations/{}", row.id), &form).await;
    assert_eq!(updated.status, 303, "{}", updated.body);
    let row = app.destination("Switch").await;
    assert_eq!(row.status, "active", "{}", row.message);
    let cipher = CredentialCipher::new(MasterKey::from_base64(&app.master_key).expect("key"));
    let plain = cipher.open(&row.credentials, &associated_data(&row.workspace_id, &row.id)).expect("opens");
    let stored: serde_json::Map<String, Value> = serde_json::from_slice(&plain).expect("JSON");
    assert_eq!(stored.keys().collect::<Vec<_>>(), vec!["sas_token"], "the account key is not kept");

    // Both at once is refused next to the field.
    let mut both = form.clone();
    both.push(("config.account_key", &a.key));
    let refused = app.post(&format!("/destinations/{}", row.id), &both).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("Enter a SAS token or the account key, not both."), "{}", refused.body);
}
