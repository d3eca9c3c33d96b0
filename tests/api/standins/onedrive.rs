//! Microsoft's identity platform and Graph's OneDrive API: scripts/onedrive_standin.py, either
//! the one `scripts/test-servers.sh` started (DEVPILOT_TEST_ONEDRIVE) or one of a test's own
//! (for tests that expire every token or count what the stand-in saw).

use devpilot::config::MicrosoftClouds;
use serde_json::{Value, json};

pub struct OneDrive {
    pub endpoint: String,
    http: reqwest::Client,
    /// A stand-in of this test's own, stopped when dropped.
    own: Option<(std::process::Child, tempfile::TempDir)>,
}

#[derive(serde::Deserialize)]
struct Shared {
    endpoint: String,
}

impl OneDrive {
    /// The shared stand-in.
    pub fn shared() -> OneDrive {
        let path = std::env::var("DEVPILOT_TEST_ONEDRIVE")
            .expect("DEVPILOT_TEST_ONEDRIVE: run the tests with scripts/test, which starts the OneDrive stand-in");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let shared: Shared = serde_json::from_str(&text).expect("DEVPILOT_TEST_ONEDRIVE names JSON with an endpoint");
        OneDrive { endpoint: shared.endpoint.trim_end_matches('/').to_owned(), http: reqwest::Client::new(), own: None }
    }

    /// A stand-in of this test's own.
    pub async fn own() -> OneDrive {
        let folder = tempfile::tempdir().expect("stand-in folder");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let python = std::env::var("DEVPILOT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/onedrive_standin.py");
        let child = std::process::Command::new(python)
            .args([script, "--port", &port.to_string(), "--upload-host", "onedrive-upload.localhost", "--folder"])
            .arg(folder.path())
            .spawn()
            .expect("start the OneDrive stand-in");
        let drive = OneDrive {
            endpoint: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            own: Some((child, folder)),
        };
        for _ in 0..100 {
            if drive.http.get(format!("{}/_control/state", drive.endpoint)).send().await.is_ok() {
                return drive;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the OneDrive stand-in did not start");
    }

    /// Every Microsoft host pointed here.
    pub fn clouds(&self) -> MicrosoftClouds {
        let e = self.endpoint.clone();
        MicrosoftClouds {
            global_login: e.clone(),
            global_graph: e.clone(),
            us_gov_login: e.clone(),
            us_gov_graph: e.clone(),
            us_dod_graph: e.clone(),
            china_login: e.clone(),
            china_graph: e,
        }
    }

    async fn control(&self, what: &str, body: Value) -> Value {
        let response =
            self.http.post(format!("{}/_control/{what}", self.endpoint)).json(&body).send().await.expect("control");
        assert!(response.status().is_success(), "{what}: {}", response.status());
        response.json().await.expect("control JSON")
    }

    pub async fn register(&self, client_id: &str, secret: &str, redirect_uri: &str) {
        self.control("clients", json!({"client_id": client_id, "client_secret": secret, "redirect_uri": redirect_uri}))
            .await;
    }

    /// Tokens granted without the browser: (refresh token, access token).
    pub async fn grant(&self, client_id: &str, scope: &str) -> (String, String) {
        let answer = self.control("grant", json!({"client_id": client_id, "scope": scope})).await;
        (
            answer["refresh_token"].as_str().unwrap_or_default().to_owned(),
            answer["access_token"].as_str().expect("access").to_owned(),
        )
    }

    pub async fn expire_access_tokens(&self) {
        self.control("expire", json!({})).await;
    }

    /// The drive's size, in bytes.
    pub async fn set_quota(&self, total: u64) {
        self.control("quota", json!({"total": total})).await;
    }

    /// The next `count` fragments are kept but their answers lost.
    pub async fn lose_answers(&self, count: u32) {
        self.control("lose_answer", json!({"count": count})).await;
    }

    pub async fn revoke(&self, refresh_token: &str) {
        self.control("revoke", json!({"refresh_token": refresh_token})).await;
    }

    pub async fn state(&self) -> Value {
        self.http
            .get(format!("{}/_control/state", self.endpoint))
            .send()
            .await
            .expect("state")
            .json()
            .await
            .expect("JSON")
    }

    /// The token endpoint's answer to a refresh (status, body).
    pub async fn refresh(&self, client_id: &str, secret: &str, refresh_token: &str) -> (u16, Value) {
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("refresh_token", refresh_token),
        ];
        let response = self
            .http
            .post(format!("{}/common/oauth2/v2.0/token", self.endpoint))
            .form(&form)
            .send()
            .await
            .expect("token");
        (response.status().as_u16(), response.json().await.expect("JSON"))
    }

    /// "Accept" on the consent page: where it sends the browser back (with the code and state).
    pub async fn consent(&self, authorize_url: &str) -> String {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let response = client.get(authorize_url).send().await.expect("authorize");
        assert_eq!(response.status(), 302, "{authorize_url}");
        response.headers()["location"].to_str().expect("location").to_owned()
    }

    /// A folder in the drive's root (a fresh name each time); its item ID.
    pub async fn add_folder(&self, access: &str, name: &str) -> String {
        let url = format!("{}/v1.0/me/drive/root/children", self.endpoint);
        let body = json!({"name": name, "folder": {}, "@microsoft.graph.conflictBehavior": "rename"});
        let answer: Value = self
            .http
            .post(url)
            .bearer_auth(access)
            .json(&body)
            .send()
            .await
            .expect("folder")
            .json()
            .await
            .expect("JSON");
        answer["id"].as_str().expect("an item id").to_owned()
    }

    /// A small file in a folder; its item ID.
    pub async fn add_file(&self, access: &str, folder: &str, name: &str, data: &[u8]) -> String {
        let url = format!("{}/v1.0/me/drive/items/{folder}:/{name}:/content", self.endpoint);
        let answer: Value = self
            .http
            .put(url)
            .bearer_auth(access)
            .body(data.to_vec())
            .send()
            .await
            .expect("file")
            .json()
            .await
            .expect("JSON");
        answer["id"].as_str().expect("an item id").to_owned()
    }

    /// The ID of the item named `name` in `folder`, if there is one.
    pub async fn child_id(&self, access: &str, folder: &str, name: &str) -> Option<String> {
        let url = format!("{}/v1.0/me/drive/items/{folder}/children", self.endpoint);
        let answer: Value =
            self.http.get(url).bearer_auth(access).send().await.expect("children").json().await.expect("JSON");
        answer["value"].as_array()?.iter().find(|i| i["name"] == name).and_then(|i| i["id"].as_str()).map(str::to_owned)
    }

    /// The names and sizes in a folder.
    pub async fn children(&self, access: &str, folder: &str) -> Vec<(String, u64)> {
        let url = format!("{}/v1.0/me/drive/items/{folder}/children", self.endpoint);
        let answer: Value =
            self.http.get(url).bearer_auth(access).send().await.expect("children").json().await.expect("JSON");
        answer["value"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|i| (i["name"].as_str().unwrap_or_default().to_owned(), i["size"].as_u64().unwrap_or(0)))
            .collect()
    }
}

/// A number of `/_control/state`.
pub fn count(state: &Value, key: &str) -> u64 {
    state[key].as_u64().unwrap_or_else(|| panic!("{key} in {state}"))
}

impl Drop for OneDrive {
    fn drop(&mut self) {
        if let Some((child, _)) = &mut self.own {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
