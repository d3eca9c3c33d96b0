//! Names refuse control and formatting characters (Unicode Cc and Cf: U+202E, U+200B, NUL …) on
//! every form and in the API, with a message naming the character; nothing is stored.

use crate::api_client::admin;
use crate::fingerprint;
use crate::helpers::{Backend, new_client, spawn_app};
use crate::on_both_backends;
use serde_json::json;

on_both_backends!(hidden_characters_are_refused_everywhere_a_name_is_typed);

const RLO: &str = "Invoice\u{202E}fdp.exe";
const ZWSP: &str = "Acme\u{200B}";
const NUL: &str = "Box\u{0}1";

async fn hidden_characters_are_refused_everywhere_a_name_is_typed(backend: Backend) {
    let app = spawn_app(backend).await;
    let setup = app
        .post("/setup", &[("workspace", ZWSP), ("name", RLO), ("email", "a@example.com"), ("password", "0123456789ab")])
        .await;
    assert_eq!(setup.status, 422);
    assert!(setup.body.contains("Remove U+200B from the workspace name"), "{}", setup.body);
    assert!(setup.body.contains("Remove U+202E from the name"));
    app.setup_admin().await;
    let before = fingerprint::state(&app).await;

    // (form, its fields, the code point the message names)
    let refusals: [(&str, crate::helpers::Form, &str); 7] = [
        ("/destinations", vec![("name", RLO), ("type", "local")], "U+202E"),
        (
            "/servers",
            vec![("name", NUL), ("config.host", "example.com"), ("config.username", "u"), ("config.password", "p")],
            "U+0000",
        ),
        (
            "/plans",
            vec![
                ("name", ZWSP),
                ("source_kind", "directory"),
                ("source_path", "/tmp"),
                ("schedule", "0 2 * * *"),
                ("retention", "3"),
            ],
            "U+200B",
        ),
        ("/account/name", vec![("name", RLO)], "U+202E"),
        ("/admin/accounts", vec![("name", RLO), ("email", "b@example.com"), ("password", "0123456789ab")], "U+202E"),
        ("/admin/workspaces", vec![("workspace", ZWSP), ("owner", "admin@example.com")], "U+200B"),
        ("/members/invitations", vec![("email", "eve\u{202E}@example.com"), ("role", "viewer")], "U+202E"),
    ];
    for (path, form, code) in refusals {
        let page = app.post(path, &form).await;
        assert_eq!(page.status, 422, "{path}: {}", page.body);
        assert!(page.body.contains(&format!("Remove {code} from")), "{path}: {}", page.body);
    }
    let api = admin(&app).await;
    let refused = api.post("/api/v1/backup-destinations", json!({"name": RLO, "destination_type": "local"})).await;
    assert_eq!(refused.status, 422, "{refused:?}");
    assert!(refused.json["fields"]["name"].as_str().is_some_and(|m| m.contains("U+202E")), "{refused:?}");
    assert_eq!(fingerprint::state(&app).await, before, "nothing was stored");

    // Accepting an invitation with such a name creates no account.
    let link = app.invite("new@example.com", "viewer").await;
    let token = link.split("token=").nth(1).expect("token").to_owned();
    let visitor = new_client();
    let page =
        app.post_with(&visitor, "/invitation", &[("token", &token), ("name", RLO), ("password", "0123456789ab")]).await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("Remove U+202E from the name"));
    assert!(!app.get("/admin/accounts").await.body.contains("new@example.com"));
}
