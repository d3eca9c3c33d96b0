//! Host resources by grant: the folders and database servers of the machine Devpilot runs on
//! that an operator lets a workspace use. A workspace uses nothing of the host that is not
//! granted here (see the README's security model).

pub mod databases;
pub mod domain;
pub mod html;
pub mod service;
pub mod store;

pub use domain::{DatabaseServer, FolderAccess, GrantKind, HostGrant};
pub use service::{GrantError, GrantInput, GrantService};
