//! One's own account: name and password (`/account`) and where one is signed in
//! (`/account/sessions`).

pub mod html;
pub mod sessions;
