//! Google's ways to an access token, in one place below everything that needs one: a
//! service account's signed assertion (GCS) and an OAuth client's consent, code exchange and
//! refresh (the Drive provider, and the consent flow in `crate::oauth`).

pub mod oauth;
mod service_account;

pub use service_account::{MIN_TOKEN_LIFE, ServiceAccountKey, access_token};
