//! An Azure shared access signature (SAS) as a destination's credential: a container SAS
//! (`sr=c`, signed with the account key or, for a user delegation SAS, an Entra ID identity) or
//! an account SAS (`ss`, `srt`). Parsed once from what the admin pasted, with a message for each
//! way it cannot work; what it allows beyond what Devpilot needs is a warning for the deep test.
//! The signature (`sig`) is the secret: it is never printed (see the `Debug` impl).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use percent_encoding::percent_decode_str;

/// The permissions Devpilot needs, in Azure's order, each with what it is used for.
pub const NEEDED: &[(char, &str)] = &[
    ('r', "read: downloads, restores and the deep test's read-back"),
    ('w', "write: uploads (blocks and block lists) and discarding cut-off uploads"),
    ('d', "delete: retention, the deep test's probe and cut-off uploads"),
    ('l', "list: the connection test, retention and finding cut-off uploads"),
];

/// Letters a SAS may carry that Devpilot never uses, in words.
const OTHER_PERMISSIONS: &[(char, &str)] = &[
    ('a', "add"),
    ('c', "create"),
    ('x', "delete versions"),
    ('y', "permanent delete"),
    ('t', "tags"),
    ('f', "find by tags"),
    ('m', "move"),
    ('e', "execute"),
    ('o', "ownership"),
    ('p', "permissions"),
    ('i', "immutability policies"),
    ('u', "update"),
];

/// The parameters of Azure's SAS tokens (service, account and user delegation SAS). Nothing
/// else is taken: the pairs go on every request, where `comp=`, `restype=` or `prefix=` would
/// change what the request does.
const SAS_PARAMETERS: &[&str] = &[
    "sv", "ss", "srt", "sr", "sp", "st", "se", "sip", "spr", "si", "sdd", "ses", "sig", "skoid", "sktid", "skt", "ske",
    "sks", "skv", "skdutid", "saoid", "suoid", "scid", "sduoid", "rscc", "rscd", "rsce", "rscl", "rsct",
];

/// How far ahead of this server's clock a start time may be (clocks differ a little).
const CLOCK_SKEW_MINUTES: i64 = 5;

#[derive(Clone, PartialEq, Eq)]
pub enum Scope {
    /// A service SAS for one container (`sr=c`).
    Container,
    /// An account SAS: every container of the account, `ss` services, `srt` resource types.
    Account { services: String, resource_types: String },
}

#[derive(Clone)]
pub struct SasToken {
    /// The decoded query pairs, as they go on every request.
    pairs: Vec<(String, String)>,
    pub scope: Scope,
    /// `sp`; none when a stored access policy (`si`) holds them.
    pub permissions: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub expiry: Option<DateTime<Utc>>,
    /// `si`: the container's stored access policy the token refers to.
    pub policy: Option<String>,
    pub https_only: bool,
}

// The pairs hold the signature: only what the token allows is printed.
impl std::fmt::Debug for SasToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SasToken").field("permissions", &self.permissions).field("expiry", &self.expiry).finish()
    }
}

impl SasToken {
    /// Parses `sv=…&sig=…`, with or without the leading `?`, or a SAS URL (its query is taken).
    /// Refuses, in words for the admin, what is no SAS or cannot work for a destination.
    pub fn parse(text: &str, endpoint_is_http: bool) -> Result<SasToken, String> {
        let query = match text.split_once('?') {
            Some((before, query)) if before.is_empty() || before.contains("://") => query,
            Some(_) => return Err("Paste the SAS token (sv=…&sig=…) or the SAS URL.".into()),
            None => text,
        };
        let mut pairs = Vec::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').ok_or_else(not_a_sas)?;
            let decode = |s: &str| percent_decode_str(s).decode_utf8().map(|c| c.into_owned()).map_err(|_| not_a_sas());
            let key = decode(key)?;
            if pairs.iter().any(|(k, _): &(String, String)| *k == key) {
                return Err(format!("The SAS token names {key} twice."));
            }
            pairs.push((key, decode(value)?));
        }
        let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
        if get("sig").is_none() || get("sv").is_none() {
            return Err(not_a_sas());
        }
        if let Some((key, _)) = pairs.iter().find(|(k, _)| !SAS_PARAMETERS.contains(&k.as_str())) {
            let shown: String = key.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(20).collect();
            return Err(format!("The SAS token has a parameter SAS tokens do not have: “{shown}”."));
        }
        let scope = scope(get("sr"), get("ss"), get("srt"))?;
        let policy = get("si").map(str::to_owned);
        if policy.is_some() && scope != Scope::Container {
            return Err("Only a container SAS can use a stored access policy (si).".into());
        }
        let permissions = get("sp").map(str::to_owned);
        match (&permissions, &policy) {
            (Some(sp), _) => missing(sp)?,
            (None, None) => return Err("The SAS token has no permissions (sp).".into()),
            (None, Some(_)) => {}
        }
        let time = |name: &str, what: &str| get(name).map(|v| parse_time(v, what)).transpose();
        let (start, expiry) = (time("st", "start (st)")?, time("se", "expiry (se)")?);
        if expiry.is_none() && policy.is_none() {
            return Err("The SAS token has no expiry (se).".into());
        }
        let https_only = get("spr") == Some("https");
        if https_only && endpoint_is_http {
            return Err("The SAS token allows HTTPS only (spr=https), but the blob endpoint is http://.".into());
        }
        Ok(SasToken { pairs, scope, permissions, start, expiry, policy, https_only })
    }

    /// The checks that depend on when they are made, for a token as it is entered: expired, or
    /// not valid yet. (A stored token that has since expired is the provider's failure.)
    pub fn check_now(&self, now: DateTime<Utc>) -> Result<(), String> {
        if let Some(expiry) = self.expiry.filter(|e| *e <= now) {
            return Err(format!("The SAS token expired on {}: create a new one.", when(expiry)));
        }
        match self.start.filter(|s| *s > now + chrono::Duration::minutes(CLOCK_SKEW_MINUTES)) {
            Some(start) => Err(format!("The SAS token is valid only from {}.", when(start))),
            None => Ok(()),
        }
    }

    /// The query pairs every request carries.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The signature, to keep out of any message.
    pub fn signature(&self) -> &str {
        self.pairs.iter().find(|(k, _)| k == "sig").map_or("", |(_, v)| v.as_str())
    }

    /// What the token allows beyond what Devpilot needs, one warning each.
    pub fn excess(&self, container: &str) -> Vec<String> {
        let mut warnings = Vec::new();
        if let Scope::Account { services, resource_types } = &self.scope {
            warnings.push(format!(
                "The SAS token is an account SAS: it reaches every container of the storage account, not only “{container}”. \
                 A container SAS (sr=c) is enough."
            ));
            if resource_types.contains('s') {
                warnings.push(
                    "The account SAS covers service-level requests (srt=s): listing containers and changing the \
                     account's blob service settings."
                        .into(),
                );
            }
            let others: Vec<&str> = services
                .chars()
                .filter_map(|c| match c {
                    'f' => Some("Files"),
                    'q' => Some("Queues"),
                    't' => Some("Tables"),
                    _ => None,
                })
                .collect();
            if !others.is_empty() {
                warnings.push(format!("The account SAS also opens {} (ss={services}).", others.join(", ")));
            }
        }
        let extra: Vec<String> = self
            .permissions
            .as_deref()
            .unwrap_or_default()
            .chars()
            .filter(|c| !NEEDED.iter().any(|(n, _)| n == c))
            .map(|c| match OTHER_PERMISSIONS.iter().find(|(o, _)| *o == c) {
                Some((_, what)) => format!("{c} ({what})"),
                None => c.to_string(),
            })
            .collect();
        if !extra.is_empty() {
            warnings.push(format!(
                "The SAS token also allows {}: Devpilot needs only {}.",
                extra.join(", "),
                needed_letters()
            ));
        }
        warnings
    }

    /// One line on what the token is, for the deep test's report.
    pub fn describe(&self, container: &str) -> String {
        let what = match (&self.scope, self.pairs.iter().any(|(k, _)| k == "skoid")) {
            (Scope::Container, true) => format!("user delegation SAS for container “{container}”"),
            (Scope::Container, false) => format!("container SAS for “{container}”"),
            (Scope::Account { .. }, _) => "account SAS".to_owned(),
        };
        let permissions = match (&self.permissions, &self.policy) {
            (Some(sp), _) => format!("permissions {sp}"),
            (None, Some(policy)) => format!("permissions of stored access policy “{policy}”"),
            (None, None) => String::new(),
        };
        let expiry = self.expiry.map(|e| format!(", expires {}", when(e))).unwrap_or_default();
        format!("{what}, {permissions}{expiry}")
    }
}

/// `rwdl`: the letters Devpilot needs.
pub fn needed_letters() -> String {
    NEEDED.iter().map(|(c, _)| c).collect()
}

fn not_a_sas() -> String {
    "This is not a SAS token: paste the query string Azure gives (sv=…&sig=…), with or without the leading ?.".into()
}

fn scope(sr: Option<&str>, ss: Option<&str>, srt: Option<&str>) -> Result<Scope, String> {
    match (sr, ss, srt) {
        (Some("c"), _, _) => Ok(Scope::Container),
        (Some("b" | "bs" | "bv"), _, _) => {
            Err("This SAS is for one blob (sr=b): Devpilot needs a container SAS (sr=c) or an account SAS.".into())
        }
        (Some("d"), _, _) => {
            Err("A directory SAS (sr=d) is not supported: use a container SAS (sr=c) and a container of its own."
                .into())
        }
        (Some(other), _, _) => {
            Err(format!("This SAS is for another kind of resource (sr={other}): use a container SAS (sr=c)."))
        }
        (None, Some(ss), Some(srt)) => {
            if !ss.contains('b') {
                return Err(format!("The account SAS is not for the Blob service (ss={ss}, needs b)."));
            }
            let lacking: Vec<&str> =
                [('c', "c (container: listing blobs)"), ('o', "o (object: reading and writing blobs)")]
                    .into_iter()
                    .filter(|(c, _)| !srt.contains(*c))
                    .map(|(_, what)| what)
                    .collect();
            if !lacking.is_empty() {
                return Err(format!("The account SAS lacks resource types {} (srt={srt}).", lacking.join(" and ")));
            }
            Ok(Scope::Account { services: ss.to_owned(), resource_types: srt.to_owned() })
        }
        _ => Err("The SAS token names no resource: a container SAS has sr=c, an account SAS ss= and srt=.".into()),
    }
}

/// Refuses permissions that lack any Devpilot needs, naming each missing letter and its use.
fn missing(sp: &str) -> Result<(), String> {
    let lacking: Vec<String> =
        NEEDED.iter().filter(|(c, _)| !sp.contains(*c)).map(|(c, what)| format!("{c} ({what})")).collect();
    if lacking.is_empty() { Ok(()) } else { Err(format!("The SAS token (sp={sp}) lacks {}.", lacking.join("; "))) }
}

/// Azure's SAS times: `2027-01-01`, `2027-01-01T00:00Z`, `2027-01-01T00:00:00Z` (UTC).
fn parse_time(value: &str, what: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%MZ") {
        return Ok(t.and_utc());
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    let shown: String = value.chars().filter(|c| !c.is_control()).take(40).collect();
    Err(format!("The SAS token's {what} is not a date Azure writes: {shown}"))
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FUTURE: &str = "se=2099-01-01T00%3A00%3A00Z";

    fn token(rest: &str) -> Result<SasToken, String> {
        SasToken::parse(&format!("?sv=2022-11-02&{rest}&sig=c2lnbmF0dXJl%2Bx%3D"), false)
    }

    #[test]
    fn a_container_sas_with_what_is_needed() {
        let t = token(&format!("sr=c&sp=rwdl&{FUTURE}&spr=https,http")).expect("valid");
        assert!(t.scope == Scope::Container);
        assert!(t.excess("backups").is_empty());
        assert_eq!(t.signature(), "c2lnbmF0dXJl+x=", "decoded once");
        assert!(!format!("{t:?}").contains("c2lnbmF0dXJl"), "Debug keeps the signature out");
        let bare = SasToken::parse(&format!("sv=2022-11-02&sr=c&sp=rwdl&{FUTURE}&sig=abc"), false);
        assert!(bare.is_ok(), "without the leading ?");
        let url = format!("https://acct.blob.core.windows.net/backups?sv=2022-11-02&sr=c&sp=rwdl&{FUTURE}&sig=abc");
        assert!(SasToken::parse(&url, false).is_ok(), "a SAS URL");
    }

    #[test]
    fn refusals_say_why() {
        let err = |t: Result<SasToken, String>| t.expect_err("refused");
        assert!(err(SasToken::parse("AccountKey==", false)).contains("not a SAS token"));
        assert!(err(SasToken::parse("sv=2022-11-02&sr=c&sp=rwdl", false)).contains("not a SAS token"), "no sig");
        let lacking = err(token(&format!("sr=c&sp=rl&{FUTURE}")));
        assert!(lacking.contains("w (write") && lacking.contains("d (delete"), "{lacking}");
        assert!(!lacking.contains("r (read"), "{lacking}");
        assert!(err(token(&format!("sr=b&sp=rwdl&{FUTURE}"))).contains("one blob"));
        assert!(err(token("sr=c&sp=rwdl")).contains("no expiry"));
        assert!(err(token(&format!("ss=qt&srt=co&sp=rwdl&{FUTURE}"))).contains("not for the Blob service"));
        assert!(err(token(&format!("ss=b&srt=o&sp=rwdl&{FUTURE}"))).contains("c (container"));
        let http = SasToken::parse(&format!("sv=2022-11-02&sr=c&sp=rwdl&{FUTURE}&spr=https&sig=a"), true);
        assert!(err(http).contains("HTTPS only"));
        assert!(err(token("sr=c&sp=rwdl&se=tomorrow")).contains("not a date"));
        let injected = err(token(&format!("sr=c&sp=rwdl&{FUTURE}&comp=list")));
        assert_eq!(injected, "The SAS token has a parameter SAS tokens do not have: “comp”.");
    }

    #[test]
    fn expired_and_not_yet_valid() {
        let now = Utc::now();
        let expired = token("sr=c&sp=rwdl&se=2020-01-01").expect("parses");
        let message = expired.check_now(now).expect_err("expired");
        assert!(message.contains("expired on 2020-01-01 00:00 UTC"), "{message}");
        let later = token(&format!("sr=c&sp=rwdl&st=2098-01-01T00:00Z&{FUTURE}")).expect("parses");
        assert!(later.check_now(now).expect_err("later").contains("valid only from 2098-01-01 00:00 UTC"));
        assert!(token(&format!("sr=c&sp=rwdl&{FUTURE}")).expect("parses").check_now(now).is_ok());
    }

    #[test]
    fn a_stored_access_policy_holds_the_permissions() {
        let t = token("sr=c&si=devpilot").expect("permissions and expiry in the policy");
        assert_eq!(t.permissions, None);
        assert!(t.describe("backups").contains("stored access policy “devpilot”"));
    }

    #[test]
    fn more_than_needed_is_a_warning() {
        let t = token(&format!("ss=bfqt&srt=sco&sp=rwdlacup&{FUTURE}")).expect("valid");
        let warnings = t.excess("backups").join(" ");
        assert!(warnings.contains("account SAS"), "{warnings}");
        assert!(warnings.contains("srt=s"), "{warnings}");
        assert!(warnings.contains("Files, Queues, Tables"), "{warnings}");
        assert!(warnings.contains("a (add), c (create), u (update), p (permissions)"), "{warnings}");
    }
}
