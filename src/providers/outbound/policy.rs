//! Which addresses Devpilot connects to on a destination's behalf. Link-local addresses (the
//! cloud metadata services live there) are never reached; this server's own addresses (loopback,
//! and 0.0.0.0 / `::`, which mean "this host") only when the operator allows it. Private ranges
//! (10/8, 172.16/12, 192.168/16, fc00::/7) stay allowed: self-hosted MinIO and SFTP boxes live
//! there. Every check is on the address actually connected to, after DNS, so a host name is
//! judged by what it resolves to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// The setting that lets destinations live on this server itself (tests and single-box setups).
pub const ALLOW_LOOPBACK_VAR: &str = "DEVPILOT_ALLOW_LOOPBACK_DESTINATIONS";

/// A save-time lookup gives up after this long and leaves the verdict to the connection test.
const SAVE_LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Loopback and "this host" addresses are allowed (`DEVPILOT_ALLOW_LOOPBACK_DESTINATIONS`).
    pub allow_loopback: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// An instance metadata service: credentials of the machine Devpilot runs on.
    Metadata,
    LinkLocal,
    Loopback,
    /// 0.0.0.0/8 and `::`: connecting there reaches this host.
    ThisHost,
}

/// An address the policy refuses, with the host name that led there (None for a literal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRefused {
    pub address: IpAddr,
    pub host: Option<String>,
    class: Class,
}

impl std::fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match (self.class, canonical(self.address)) {
            (Class::Metadata, IpAddr::V4(a)) if a.is_link_local() => "a link-local (cloud metadata) address",
            (Class::Metadata, _) => "a cloud metadata address",
            (Class::LinkLocal, _) => "a link-local address",
            (Class::Loopback, _) => "a loopback address (this server itself)",
            (Class::ThisHost, _) => "an address that means this server itself",
        };
        let rule = match self.class {
            Class::Metadata | Class::LinkLocal => "Devpilot never connects there.".to_owned(),
            Class::Loopback | Class::ThisHost => {
                format!("this server allows destinations there only with {ALLOW_LOOPBACK_VAR}=true.")
            }
        };
        match &self.host {
            Some(host) => write!(f, "{host} resolves to {}, {what}; {rule}", self.address),
            None => write!(f, "{} is {what}; {rule}", self.address),
        }
    }
}

impl std::error::Error for AddressRefused {}

/// Why a host could not be turned into addresses to connect to.
#[derive(Debug)]
pub enum ResolveError {
    Refused(AddressRefused),
    Lookup(std::io::Error),
}

/// An IPv6 address that carries an IPv4 one is judged as that: IPv4-mapped
/// (`::ffff:169.254.169.254`) and NAT64's well-known prefix (`64:ff9b::a9fe:a9fe`, which a
/// translator on the network would turn into the IPv4 address).
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] => {
            let [.., a, b, c, d] = v6.octets();
            IpAddr::V4(Ipv4Addr::new(a, b, c, d))
        }
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

const AWS_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);
const ALIBABA_METADATA: Ipv4Addr = Ipv4Addr::new(100, 100, 100, 200);
const METADATA_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);

fn classify(ip: IpAddr) -> Option<Class> {
    match canonical(ip) {
        IpAddr::V4(a) if a == METADATA_V4 || a == ALIBABA_METADATA => Some(Class::Metadata),
        IpAddr::V4(a) if a.is_link_local() => Some(Class::LinkLocal),
        IpAddr::V4(a) if a.is_loopback() => Some(Class::Loopback),
        IpAddr::V4(a) if a.octets()[0] == 0 => Some(Class::ThisHost),
        IpAddr::V6(a) if a == AWS_METADATA_V6 => Some(Class::Metadata),
        IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80 => Some(Class::LinkLocal),
        IpAddr::V6(a) if a.is_loopback() => Some(Class::Loopback),
        IpAddr::V6(a) if a.is_unspecified() => Some(Class::ThisHost),
        _ => None,
    }
}

/// A host as typed, when it is an IP address (`[::1]` with or without brackets).
pub fn literal(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// `localhost` and every name under it: loopback, never asked of DNS (RFC 6761, section 6.3,
/// as browsers do), so such a name means this server whatever a resolver would answer.
pub fn is_localhost_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// The host of a URL as the url crate normalises it (so `http://0xa9fea9fe/` names
/// 169.254.169.254, as it does for reqwest).
pub fn url_host(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    Some(match url.host()? {
        url::Host::Domain(d) => d.to_owned(),
        url::Host::Ipv4(a) => a.to_string(),
        url::Host::Ipv6(a) => a.to_string(),
    })
}

impl AddressPolicy {
    pub fn allowing_loopback() -> AddressPolicy {
        AddressPolicy { allow_loopback: true }
    }

    pub fn check(&self, ip: IpAddr) -> Result<(), AddressRefused> {
        match classify(ip) {
            None => Ok(()),
            Some(Class::Loopback | Class::ThisHost) if self.allow_loopback => Ok(()),
            Some(class) => Err(AddressRefused { address: ip, host: None, class }),
        }
    }

    /// A URL whose host is an IP literal must pass (reqwest connects to a literal without a
    /// lookup, so the resolver never sees it); named hosts are checked when they resolve.
    pub fn check_url(&self, url: &str) -> Result<(), AddressRefused> {
        match url_host(url).and_then(|h| literal(&h)) {
            Some(ip) => self.check(ip),
            None => Ok(()),
        }
    }

    /// Every address `host` stands for must pass: a name with one refused address among good
    /// ones is refused (it is someone's attempt, not an accident).
    fn check_all(&self, host: &str, addrs: &[SocketAddr]) -> Result<(), AddressRefused> {
        let named = literal(host).is_none();
        for addr in addrs {
            self.check(addr.ip()).map_err(|e| AddressRefused { host: named.then(|| host.to_owned()), ..e })?;
        }
        Ok(())
    }

    /// Resolves `host` and checks every address; connect to exactly these (no second lookup,
    /// which DNS rebinding could answer differently).
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
        let addrs: Vec<SocketAddr> = match (literal(host), is_localhost_name(host)) {
            (Some(ip), _) => vec![SocketAddr::new(ip, port)],
            (None, true) => vec![SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)],
            (None, false) => tokio::net::lookup_host((host, port)).await.map_err(ResolveError::Lookup)?.collect(),
        };
        self.check_all(host, &addrs).map_err(ResolveError::Refused)?;
        Ok(addrs)
    }

    /// The check when a destination is saved, for a message next to the field. A name that does
    /// not resolve (yet) passes: the connection test reports that, and checks again.
    pub async fn check_host(&self, host: &str) -> Result<(), AddressRefused> {
        match tokio::time::timeout(SAVE_LOOKUP_TIMEOUT, self.resolve(host, 0)).await {
            Ok(Err(ResolveError::Refused(refused))) => Err(refused),
            _ => Ok(()),
        }
    }
}

/// The refusal somewhere in an error's chain of sources, if the policy caused it.
pub fn refusal_in<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a AddressRefused> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(refused) = e.downcast_ref::<AddressRefused>() {
            return Some(refused);
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(policy: AddressPolicy, ip: &str) -> Option<String> {
        policy.check(ip.parse().expect("an address")).err().map(|e| e.to_string())
    }

    #[test]
    fn metadata_and_link_local_are_always_refused() {
        for policy in [AddressPolicy::default(), AddressPolicy::allowing_loopback()] {
            assert_eq!(
                refused(policy, "169.254.169.254").as_deref(),
                Some("169.254.169.254 is a link-local (cloud metadata) address; Devpilot never connects there.")
            );
            for ip in [
                "169.254.0.1",
                "::ffff:169.254.169.254",
                "64:ff9b::a9fe:a9fe",
                "fd00:ec2::254",
                "fe80::1",
                "100.100.100.200",
            ] {
                let message = refused(policy, ip).unwrap_or_else(|| panic!("{ip} passed"));
                assert!(message.contains("never connects there"), "{message}");
            }
        }
    }

    #[test]
    fn this_host_is_refused_unless_allowed() {
        for ip in ["127.0.0.1", "127.8.9.10", "::1", "0.0.0.0", "::", "::ffff:127.0.0.1"] {
            let message = refused(AddressPolicy::default(), ip).unwrap_or_else(|| panic!("{ip} passed"));
            assert!(message.contains(ALLOW_LOOPBACK_VAR), "{message}");
            assert_eq!(refused(AddressPolicy::allowing_loopback(), ip), None, "{ip}");
        }
    }

    #[test]
    fn private_and_public_addresses_pass() {
        for ip in ["10.0.0.5", "192.168.1.10", "172.16.0.1", "100.64.0.1", "fd12:3456::1", "8.8.8.8", "2001:db8::1"] {
            assert_eq!(refused(AddressPolicy::default(), ip), None, "{ip}");
        }
    }

    #[test]
    fn url_hosts_are_normalised() {
        assert_eq!(url_host("http://0xa9fea9fe:9000/").as_deref(), Some("169.254.169.254"));
        assert_eq!(url_host("http://[::ffff:a9fe:a9fe]/").as_deref(), Some("::ffff:169.254.169.254"));
        assert_eq!(url_host("https://s3.example.com").as_deref(), Some("s3.example.com"));
    }

    #[tokio::test]
    async fn names_are_judged_by_what_they_resolve_to() {
        let refusal = AddressPolicy::default().check_host("localhost").await.expect_err("localhost is loopback");
        assert!(refusal.to_string().starts_with("localhost resolves to "), "{refusal}");
        assert!(AddressPolicy::allowing_loopback().check_host("localhost").await.is_ok());
        assert!(AddressPolicy::default().check_host("no-such-host.invalid").await.is_ok(), "left to the test");
        let named = AddressPolicy::default().check_host("bucket.s3.LOCALHOST.").await.expect_err("under localhost");
        assert!(named.to_string().contains("127.0.0.1"), "{named}");
        let addrs = AddressPolicy::allowing_loopback().resolve("b.s3.localhost", 9000).await.expect("loopback");
        assert_eq!(addrs, vec![SocketAddr::from(([127, 0, 0, 1], 9000))]);
    }
}
