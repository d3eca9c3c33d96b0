//! What an Azure credential can do beyond what Devpilot needs (the deep test's report, learned
//! from the credential itself: no request has side effects), and Azure's refusals of a SAS in
//! words that say which permission the refused operation needed.

use super::sas::{NEEDED, SasToken, needed_letters};
use crate::providers::compatibility::{CheckState, Compatibility};
use crate::providers::{ErrorKind, ProviderError, Step};
use chrono::{DateTime, Utc};

/// What Devpilot was doing when Azure refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    List,
    Write,
    Read,
    Delete,
}

impl Op {
    fn letter(self) -> char {
        match self {
            Op::List => 'l',
            Op::Write => 'w',
            Op::Read => 'r',
            Op::Delete => 'd',
        }
    }

    fn doing(self) -> &'static str {
        match self {
            Op::List => "listing blobs",
            Op::Write => "writing a blob",
            Op::Read => "reading a blob",
            Op::Delete => "deleting a blob",
        }
    }

    fn step(self) -> Step {
        match self {
            Op::List => Step::List,
            Op::Write => Step::Write,
            Op::Read => Step::Read,
            Op::Delete => Step::Delete,
        }
    }
}

/// Azure's error for a request signed with `sas`, with what it means for this token; the
/// signature is never part of it.
pub fn explain(sas: &SasToken, container: &str, e: ProviderError, op: Op, now: DateTime<Utc>) -> ProviderError {
    let why = match e.code.as_deref() {
        Some("AuthorizationPermissionMismatch") => {
            let (letter, what) = NEEDED.iter().find(|(c, _)| *c == op.letter()).copied().unwrap_or(('?', ""));
            let granted = match (&sas.permissions, &sas.policy) {
                (Some(sp), _) => format!("sp={sp}"),
                (None, Some(policy)) => format!("stored access policy “{policy}”"),
                (None, None) => "no permissions".into(),
            };
            Some(format!(
                "The SAS token ({granted}) does not allow {}: it needs permission {letter} ({what}).",
                op.doing()
            ))
        }
        Some("AuthorizationResourceTypeMismatch") => Some(
            "The account SAS does not cover this kind of request: it needs resource types c and o (srt=co).".into(),
        ),
        Some("AuthorizationServiceMismatch") => Some("The account SAS is not for the Blob service (ss=b).".into()),
        Some("AuthorizationProtocolMismatch") => Some("The SAS token does not allow this protocol (spr).".into()),
        Some("AuthorizationSourceIPMismatch") => {
            Some("The SAS token is limited to other IP addresses (sip): allow this server's address.".into())
        }
        _ if e.kind == ErrorKind::Authentication => Some(match (sas.expiry, sas.start) {
            (Some(expiry), _) if expiry <= now => format!(
                "The SAS token expired on {}: create a new one and enter it on the destination.",
                expiry.format("%Y-%m-%d %H:%M UTC")
            ),
            (_, Some(start)) if start > now => {
                format!("The SAS token is valid only from {}.", start.format("%Y-%m-%d %H:%M UTC"))
            }
            _ => format!(
                "The SAS token was not accepted for container “{container}”: a container SAS works only for the \
                 container and account it was made for, with the key that signed it still valid (and its stored \
                 access policy, if it names one)."
            ),
        }),
        _ => None,
    };
    let mut e = match why {
        Some(why) => {
            let step = if e.kind == ErrorKind::Permission { Some(op.step()) } else { e.step };
            ProviderError { message: format!("{} {why}", e.message), step, ..e }
        }
        None => e,
    };
    let signature = sas.signature();
    if !signature.is_empty() && e.message.contains(signature) {
        e.message = e.message.replace(signature, "[signature]");
    }
    e
}

/// The deep test's report: the credential, whether cut-off uploads can be found with it, how
/// downloads go, and a warning for each thing it allows that Devpilot does not need.
pub fn report(
    sas: Option<&SasToken>,
    account: &str,
    container: &str,
    listing: Result<(), ProviderError>,
) -> Compatibility {
    let mut found = Compatibility { probed_at: Some(Utc::now().naive_utc()), ..Compatibility::default() };
    match sas {
        Some(sas) => {
            found.check("credential", CheckState::Works, sas.describe(container));
            found.warnings = sas.excess(container);
        }
        None => {
            found.check("credential", CheckState::Works, format!("account key of storage account “{account}”"));
            found.warnings.push(format!(
                "The account key can do everything in storage account “{account}”: every container, its settings \
                 and the other services. Use a container SAS with permissions {} instead (see Least privilege).",
                needed_letters()
            ));
        }
    }
    let cut_off = "finding cut-off uploads (List Blobs with uncommitted blobs)";
    match listing {
        Ok(()) => found.check(cut_off, CheckState::Works, ""),
        Err(e) => found.check(cut_off, CheckState::Refused, e.to_string()),
    }
    let (state, detail, uses) = match sas {
        Some(_) => (
            CheckState::Refused,
            "a SAS cannot sign download links",
            "downloads stream through Devpilot (a SAS signs no links)",
        ),
        None => (
            CheckState::Works,
            "read-only SAS for one blob, valid at most 24 hours",
            "download links: a read-only SAS for one blob",
        ),
    };
    found.check("presigned download links", state, detail);
    found.uses.push(uses.into());
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sas(rest: &str) -> SasToken {
        SasToken::parse(&format!("sv=2022-11-02&{rest}&sig=SECRETsig%2B%3D"), false).expect("valid")
    }

    #[test]
    fn a_refusal_names_the_missing_permission() {
        let t = sas("sr=c&si=readonly");
        let refused = ProviderError::with_code(
            ErrorKind::Permission,
            "AuthorizationPermissionMismatch",
            "This request is not authorized to perform this operation using this permission.",
        );
        let e = explain(&t, "backups", refused, Op::Write, Utc::now());
        assert!(e.message.contains("stored access policy “readonly”"), "{}", e.message);
        assert!(e.message.contains("does not allow writing a blob: it needs permission w"), "{}", e.message);
        assert_eq!(e.step, Some(Step::Write));
    }

    #[test]
    fn an_expired_token_says_so_and_the_signature_never_shows() {
        let t = sas("sr=c&sp=rwdl&se=2020-01-01");
        let refused = ProviderError::with_code(ErrorKind::Authentication, "AuthenticationFailed", "sig SECRETsig+=");
        let e = explain(&t, "backups", refused, Op::List, Utc::now());
        assert!(e.message.contains("expired on 2020-01-01 00:00 UTC"), "{}", e.message);
        assert!(!e.message.contains("SECRETsig"), "{}", e.message);
    }

    #[test]
    fn the_account_key_is_warned_about() {
        let found = report(None, "acct", "backups", Ok(()));
        assert!(found.warnings[0].contains("can do everything"), "{:?}", found.warnings);
        let minimal = report(Some(&sas("sr=c&sp=rwdl&se=2099-01-01")), "acct", "backups", Ok(()));
        assert!(minimal.warnings.is_empty(), "{:?}", minimal.warnings);
    }
}
