//! The outbound address policy: where Devpilot may connect for a destination (see `policy`), and
//! the HTTP client that enforces it for object stores (`http`). SFTP enforces it by resolving
//! through [`AddressPolicy::resolve`] and connecting to exactly the addresses it checked.

mod http;
mod policy;

pub use http::{CheckedService, checked};
pub use policy::{
    ALLOW_LOOPBACK_VAR, AddressPolicy, AddressRefused, ResolveError, canonical, is_localhost_name, literal, refusal_in,
    url_host,
};

use super::{ErrorKind, ProviderError, Step};

impl AddressRefused {
    /// As a connection test reports it: at "resolve" for a name, at "connect" for an address.
    pub fn provider_error(&self) -> ProviderError {
        let step = if self.host.is_some() { Step::Resolve } else { Step::Connect };
        ProviderError::new(ErrorKind::Unreachable, self.to_string()).at(step)
    }
}
