//! Settings of accounts and access.

use super::{parse_var, var};
use ipnet::IpNet;
use std::net::IpAddr;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct IdentitySettings {
    /// `DEVPILOT_ALLOW_WORKSPACE_CREATION`: every account may start workspaces of its own; by
    /// default only operators create workspaces.
    pub allow_workspace_creation: bool,
    /// A browser session unused this long ends (`DEVPILOT_SESSION_IDLE_MINUTES`, 12 hours).
    pub session_idle: Duration,
    /// Every browser session ends this long after sign-in, used or not
    /// (`DEVPILOT_SESSION_MAX_HOURS`, 7 days).
    pub session_max: Duration,
    /// `DEVPILOT_TRUSTED_PROXIES`: the reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// How long an invitation link works (`DEVPILOT_INVITATION_DAYS`, 7 days).
    pub invitation_lifetime: Duration,
    /// The wait after the free sign-in attempts, doubling with each failure past them (2 s; not a
    /// setting of the environment: tests lengthen it so a loaded machine cannot outwait it).
    pub sign_in_delay: Duration,
}

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;

impl Default for IdentitySettings {
    fn default() -> Self {
        IdentitySettings {
            allow_workspace_creation: false,
            session_idle: Duration::from_secs(12 * HOUR),
            session_max: Duration::from_secs(7 * 24 * HOUR),
            trusted_proxies: TrustedProxies::default(),
            invitation_lifetime: Duration::from_secs(7 * 24 * HOUR),
            sign_in_delay: Duration::from_secs(2),
        }
    }
}

impl IdentitySettings {
    pub fn from_env() -> anyhow::Result<IdentitySettings> {
        let d = IdentitySettings::default();
        let idle: u64 = parse_var("DEVPILOT_SESSION_IDLE_MINUTES", d.session_idle.as_secs() / MINUTE)?;
        let max: u64 = parse_var("DEVPILOT_SESSION_MAX_HOURS", d.session_max.as_secs() / HOUR)?;
        anyhow::ensure!(idle > 0, "DEVPILOT_SESSION_IDLE_MINUTES must be at least 1");
        anyhow::ensure!(max > 0, "DEVPILOT_SESSION_MAX_HOURS must be at least 1");
        let days: u64 = parse_var("DEVPILOT_INVITATION_DAYS", d.invitation_lifetime.as_secs() / (24 * HOUR))?;
        anyhow::ensure!(days > 0, "DEVPILOT_INVITATION_DAYS must be at least 1");
        Ok(IdentitySettings {
            allow_workspace_creation: parse_var("DEVPILOT_ALLOW_WORKSPACE_CREATION", false)?,
            session_idle: Duration::from_secs(idle * MINUTE),
            session_max: Duration::from_secs(max * HOUR),
            trusted_proxies: TrustedProxies::parse(&var("DEVPILOT_TRUSTED_PROXIES").unwrap_or_default())?,
            invitation_lifetime: Duration::from_secs(days * 24 * HOUR),
            sign_in_delay: d.sign_in_delay,
        })
    }
}

/// Addresses and networks of reverse proxies in front of Devpilot. A request from one of them
/// names its client in `X-Forwarded-For`; from anywhere else that header is ignored, since anyone
/// can send it.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Comma-separated addresses or CIDR networks: `10.0.0.5, 192.168.0.0/16, ::1`.
    pub fn parse(value: &str) -> anyhow::Result<TrustedProxies> {
        let mut nets = Vec::new();
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let net = match part.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => part
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| anyhow::anyhow!("DEVPILOT_TRUSTED_PROXIES: {part:?} is not an address or network"))?,
            };
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip.to_canonical()))
    }

    /// The client of a request that came from `peer`: when `peer` is a trusted proxy, the
    /// rightmost address of `X-Forwarded-For` (its values in order) that is not one — each
    /// trusted proxy appends the address it was reached from, so hops further left are only as
    /// good as the first untrusted one, which could have written anything there.
    pub fn client<'a>(&self, peer: IpAddr, forwarded_for: impl DoubleEndedIterator<Item = &'a str>) -> IpAddr {
        let mut client = peer.to_canonical();
        let hops = forwarded_for.flat_map(|value| value.split(',').collect::<Vec<_>>());
        for hop in hops.rev() {
            if !self.contains(client) {
                break;
            }
            match parse_hop(hop) {
                Some(ip) => client = ip,
                None => break,
            }
        }
        client
    }

    pub fn describe(&self) -> String {
        if self.0.is_empty() {
            return "(none: X-Forwarded-For is ignored)".into();
        }
        self.0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    }
}

/// One `X-Forwarded-For` entry: an address, perhaps with a port (`203.0.113.7:4711`, `[2001:db8::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    hop.parse::<std::net::SocketAddr>().ok().map(|s| s.ip().to_canonical())
}

#[cfg(test)]
mod tests {
    use super::TrustedProxies;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn only_a_trusted_peer_is_believed() {
        let proxies = TrustedProxies::parse("10.0.0.5, 192.168.0.0/16").expect("parse");
        assert_eq!(proxies.client(ip("203.0.113.9"), ["198.51.100.1"].into_iter()), ip("203.0.113.9"));
        assert_eq!(proxies.client(ip("10.0.0.5"), ["198.51.100.1"].into_iter()), ip("198.51.100.1"));
        assert_eq!(proxies.client(ip("::ffff:10.0.0.5"), ["198.51.100.1"].into_iter()), ip("198.51.100.1"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").expect("parse");
        // A client forged the first entry; the proxies appended the real hops after it.
        let chain = ["6.6.6.6, 198.51.100.1", "10.0.0.7"];
        assert_eq!(proxies.client(ip("10.0.0.5"), chain.into_iter()), ip("198.51.100.1"));
        assert_eq!(proxies.client(ip("10.0.0.5"), ["10.0.0.9, 10.0.0.8"].into_iter()), ip("10.0.0.9"));
        assert_eq!(proxies.client(ip("10.0.0.5"), ["garbage"].into_iter()), ip("10.0.0.5"));
        assert_eq!(proxies.client(ip("10.0.0.5"), ["[2001:db8::1]:443"].into_iter()), ip("2001:db8::1"));
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("not-an-ip").is_err());
    }
}
