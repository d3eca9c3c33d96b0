//! The API reference page: the OpenAPI document rendered as HTML (no external viewer, no script).

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::web::{Layout, render};
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use serde_json::Value;

pub struct Endpoint {
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub params: Vec<(String, String, String)>,
    pub body: String,
    pub responses: Vec<(String, String)>,
    pub anchor: String,
}

#[derive(Template)]
#[template(path = "api/reference.html")]
struct ReferencePage {
    layout: Layout,
    endpoints: Vec<Endpoint>,
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Every operation of the document, in path order.
pub fn endpoints(doc: &Value) -> Vec<Endpoint> {
    let mut out = Vec::new();
    let Some(paths) = doc["paths"].as_object() else { return out };
    for (path, item) in paths {
        for method in METHODS {
            let op = &item[method];
            if !op.is_object() {
                continue;
            }
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            let params = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| (text(&p["name"]), text(&p["in"]), text(&p["description"])))
                .collect();
            let body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .map(|r| r.rsplit('/').next().unwrap_or(r).to_owned())
                .unwrap_or_default();
            let responses = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(code, r)| (code.clone(), text(&r["description"])))
                .collect();
            let summary = text(&op["summary"]);
            out.push(Endpoint {
                anchor: format!("{method}-{}", path.replace(['/', '{', '}'], "-")),
                method: method.to_uppercase(),
                path: path.clone(),
                description: text(&op["description"]),
                summary,
                params,
                body,
                responses,
            });
        }
    }
    out
}

pub async fn page(user: CurrentUser) -> Result<HttpResponse, AppError> {
    let doc = serde_json::to_value(super::openapi()).map_err(|e| AppError::Internal(e.into()))?;
    render(StatusCode::OK, &ReferencePage { layout: Layout::for_user(&user, "api"), endpoints: endpoints(&doc) })
}
