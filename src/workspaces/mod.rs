//! Workspaces and their members. Accounts and memberships are stored by the auth module; these
//! are the pages to see and change them.

pub mod html;
