//! The one integration test binary: a real server per test on port 0, against a fresh SQLite
//! file or a fresh PostgreSQL database, and real local servers (moto, chromedriver) that
//! `scripts/test` starts.

mod conformance;
mod fingerprint;
mod helpers;
mod standins;

mod accounts;
mod admin_area;
mod allowed_paths;
mod api_auth;
mod api_client;
mod api_destinations;
mod api_runs;
mod api_schedules;
mod api_tokens;
mod artifacts;
mod audit_log;
mod body_limits;
mod browser;
mod concurrent_writes;
mod csrf_and_roles;
mod cut_off_uploads;
mod database_outage;
mod destinations;
mod every_destination;
mod fresh_from_memory;
mod key_rotation;
mod killed_destination;
mod killed_server;
mod local_disk_faults;
mod oauth;
mod outbound_policy;
mod plan_sources;
mod plans;
mod plans_destination_dialog;
mod provider_azure;
mod provider_cloudinary;
mod provider_drive;
mod provider_gcs;
mod provider_local;
mod provider_s3;
mod provider_sftp;
mod redaction;
mod relay;
mod route_authorization;
mod runs;
mod security_headers;
mod server_process;
mod servers;
mod several_instances;
mod silent_provider;
mod silent_server;
mod test_all;
mod tmpfs;
mod validation;
