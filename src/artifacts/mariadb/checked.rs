//! A connection the tools may use: the address that answered the check and the login that
//! worked there. Made by the check (`check.rs`), used by the tools (`tools.rs`).

use super::handshake::Address;
use super::url::MariaDbUrl;

/// A server that answered, with a login that works (and the database, when one is named).
#[derive(Debug, Clone)]
pub struct Checked {
    pub url: MariaDbUrl,
    pub at: Address,
    /// As the server announced it (`10.11.6-MariaDB`, `8.0.36`).
    pub version: String,
}
