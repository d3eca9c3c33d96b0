//! How a connection test is reported: the steps it ran, the provider's message and a hint. A
//! failed test answers 422 in the error shape, with the test beside it.

use super::resource::DestinationResource;
use crate::connection_test::{StepState, TestOutcome};
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StepOutcome {
    Passed,
    Failed,
    /// Not reached: an earlier step failed.
    NotRun,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct TestStep {
    /// resolve, connect, handshake, authenticate, find bucket/folder, list, write probe, read
    /// back or delete probe.
    #[schema(example = "authenticate")]
    pub step: String,
    pub state: StepOutcome,
}

/// A finished connection test.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct TestResult {
    /// Whether every step passed.
    pub ok: bool,
    /// What the provider said, e.g. "Access Denied" or "No such bucket".
    pub message: String,
    /// What to check, for the common failures.
    pub hint: Option<String>,
    pub steps: Vec<TestStep>,
    pub tested_at: DateTime<Utc>,
}

impl From<TestOutcome> for TestResult {
    fn from(t: TestOutcome) -> Self {
        TestResult {
            ok: t.ok,
            message: t.message,
            hint: t.hint.map(str::to_owned),
            steps: t
                .steps
                .iter()
                .map(|s| TestStep {
                    step: s.label.to_owned(),
                    state: match s.state {
                        StepState::Passed => StepOutcome::Passed,
                        StepState::Failed => StepOutcome::Failed,
                        StepState::NotRun => StepOutcome::NotRun,
                    },
                })
                .collect(),
            tested_at: t.at.and_utc(),
        }
    }
}

/// A destination after a save or a test, and the test's result.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DestinationTested {
    pub data: DestinationResource,
    pub test: TestResult,
}

/// The result of testing credentials that were not saved.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct CredentialsTested {
    pub test: TestResult,
}

/// A failed test (with `test`, and `data` for a saved destination), or invalid input (with
/// `fields`).
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct TestFailed {
    #[schema(example = "Unprocessable Entity")]
    pub error: String,
    /// The provider's message, or what is wrong with the input.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<DestinationResource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<TestResult>,
}

/// 200 with the result when the test passed, else 422 with the provider's message.
pub fn answer(outcome: TestOutcome, data: Option<DestinationResource>) -> HttpResponse {
    let test = TestResult::from(outcome);
    match (test.ok, data) {
        (true, Some(data)) => HttpResponse::Ok().json(DestinationTested { data, test }),
        (true, None) => HttpResponse::Ok().json(CredentialsTested { test }),
        (false, data) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            HttpResponse::build(status).json(TestFailed {
                error: status.canonical_reason().unwrap_or("Error").to_owned(),
                message: test.message.clone(),
                fields: None,
                data,
                test: Some(test),
            })
        }
    }
}
