//! The Google consent flow that connects a Google Drive destination: "Connect Google Drive"
//! sends the browser to Google (authorization code with PKCE, offline access); the callback
//! checks the state, exchanges the code, stores the refresh token sealed with the destination's
//! credentials, and tests the destination.
//!
//! A state is random and single-use, expires after ten minutes, and is bound to the user, their
//! browser session and the destination; anything else is refused with a page that says why.

pub mod consent;
pub mod html;
pub mod service;
pub mod store;
