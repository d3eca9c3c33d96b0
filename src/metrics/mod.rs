//! Prometheus metrics: `GET /metrics` for the whole instance (the operator's), every family
//! computed from the database at scrape time ([`families`], where new families are added), read
//! with the instance's metrics token or an operator's session or API token; the token's page in
//! the admin area (`/admin/metrics`).

pub mod drills;
pub mod families;
pub mod html;
pub mod service;
pub mod store;
