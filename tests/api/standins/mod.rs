//! Stand-ins: small servers of our own for services that have no local server here, each
//! following the real service's documented protocol (signatures, keys and errors included).

pub mod server;

// Google OAuth, Google Drive, Cloudinary.
pub mod cloudinary;
pub mod drive;
pub mod google_oauth;

// Microsoft's identity platform and Graph (scripts/onedrive_standin.py, a process of its own).
pub mod onedrive;

// Google's token endpoint for service accounts (JWT bearer grant), and GCS's checks in front of
// fake-gcs-server.
pub mod gcs_gate;
pub mod google_token;

// S3-compatible services that lack an optional feature, in front of s3s-fs.
pub mod s3_proxy;

// Notification channels' services: Slack, Discord, Teams, Telegram, Gotify, pings, webhooks.
pub mod notify;

// A MySQL server that asks its clients for a local file (LOAD DATA LOCAL INFILE), as a hostile
// tenant's would.
pub mod rogue_mysql;
