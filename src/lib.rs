//! Devpilot Backups: a self-hosted manager of backup destinations.

pub mod account;
pub mod admin;
pub mod api;
pub mod artifacts;
pub mod audit;
pub mod auth;
pub mod config;
pub mod crypto;
pub mod db;
pub mod destinations;
pub mod error;
pub mod grants;
pub mod instances;
pub mod invitations;
pub mod keys;
pub mod mail;
pub mod oauth;
pub mod plans;
pub mod providers;
pub mod runs;
pub mod servers;
pub mod sessions;
pub mod startup;
pub mod telemetry;
pub mod web;
pub mod workspaces;
