//! A JSON API client for the tests: a bearer token and requests that return status + JSON.

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp};
use serde_json::Value;

pub struct Api<'a> {
    pub app: &'a TestApp,
    pub token: String,
    client: reqwest::Client,
}

pub struct Reply {
    pub status: u16,
    pub json: Value,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.json)
    }
}

/// A JWT for the admin that `setup_admin` created.
pub async fn admin_jwt(app: &TestApp) -> String {
    let reply = anonymous(app)
        .post("/api/v1/auth/token", serde_json::json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json["access_token"].as_str().expect("access_token").to_owned()
}

/// The admin's API client (a JWT from /auth/token).
pub async fn admin(app: &TestApp) -> Api<'_> {
    let token = admin_jwt(app).await;
    Api::with_token(app, &token)
}

pub fn anonymous(app: &TestApp) -> Api<'_> {
    Api::with_token(app, "")
}

impl<'a> Api<'a> {
    pub fn with_token(app: &'a TestApp, token: &str) -> Api<'a> {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Api { app, token: token.to_owned(), client }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let request = if self.token.is_empty() { request } else { request.bearer_auth(&self.token) };
        let response = request.send().await.expect("API request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let json =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Reply { status, json }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.client.get(self.app.url(path))).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.client.delete(self.app.url(path))).await
    }

    /// `delete` with an owned path, for requests collected into a list of futures.
    pub async fn delete_owned(&self, path: String) -> Reply {
        self.delete(&path).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(self.client.post(self.app.url(path)).json(&body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(self.client.put(self.app.url(path)).json(&body)).await
    }

    /// A raw request, for bodies that are not JSON or headers that are wrong on purpose.
    pub fn raw(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.app.url(path))
    }
}

/// Asserts the error shape: `error` is the status's reason, `message` says what is wrong.
pub fn assert_error(reply: &Reply, status: u16, message_part: &str) {
    assert_eq!(reply.status, status, "{reply:?}");
    let reason = reqwest::StatusCode::from_u16(status).expect("status").canonical_reason().expect("reason");
    assert_eq!(reply.json["error"], reason, "{reply:?}");
    let message = reply.json["message"].as_str().unwrap_or_default();
    assert!(message.contains(message_part), "expected {message_part:?} in {message:?}");
}
