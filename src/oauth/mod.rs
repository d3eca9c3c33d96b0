//! The consent flows that connect Google Drive and OneDrive destinations: "Connect Google
//! Drive" / "Connect OneDrive" sends the browser to Google's or Microsoft's consent page
//! (authorization code with PKCE; `consent.rs` says what each asks for); the callback checks the
//! state, exchanges the code, stores the refresh token sealed with the destination's
//! credentials, and tests the destination.
//!
//! A state is random and single-use, expires after ten minutes, and is bound to the user, their
//! browser session and the destination; anything else is refused with a page that says why.

pub mod consent;
pub mod html;
pub mod service;
pub mod store;
