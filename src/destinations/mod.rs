//! Backup destinations: where artifacts live. A destination wraps a provider's config
//! (`crate::providers::ProviderConfig`) with its name, status, default and workspace.

pub mod audited;
mod bucket_source;
mod connecting;
pub mod dialog;
pub mod domain;
mod editing;
mod folder_picker;
mod folders;
mod form;
pub mod health;
mod health_store;
mod health_view;
mod host_folder;
pub mod html;
mod lifecycle;
pub mod list;
mod numbers;
mod numbers_store;
mod page;
mod panel;
mod policy;
mod reading;
pub mod revalidation;
mod saving;
pub mod service;
pub mod store;
mod testing;
mod token_keeper;
