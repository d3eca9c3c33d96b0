//! What the compatibility probe learned about an S3 service, and what Devpilot does there
//! because of it. Before a deep test has run, Devpilot uses only what every S3 service takes:
//! signed payloads, no checksum headers, no conditions, multipart with 8 MiB parts, presigned
//! downloads (as before); each optional feature is used only once it has been seen to work.

use serde::{Deserialize, Serialize};

/// The parts of a multipart upload are this size unless the service caps their number.
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// S3's own limit on part numbers.
pub const S3_MAX_PARTS: u32 = 10_000;
/// A capped service gets bigger parts, up to this (memory: at most two such parts at once).
const MAX_PART_SIZE: usize = 64 * 1024 * 1024;
/// Parts of 8 MiB, up to 5 in flight while the next fills: at most 48 MiB of an upload in memory.
const PARTS_MEMORY: usize = 5 * PART_SIZE;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Learned {
    /// `x-amz-checksum-sha256` and `-crc64nvme` on uploads: verified by the service.
    pub sha256_verified: bool,
    pub crc64nvme_verified: bool,
    /// The checksum chosen also works in multipart uploads (object_store sends it in both).
    #[serde(default)]
    pub multipart_checksums: bool,
    pub unsigned_payload: bool,
    /// `If-None-Match: *` is honoured (an existing key is refused).
    pub conditional_writes: bool,
    /// The highest part number taken, when below S3's 10,000.
    pub max_parts: Option<u32>,
    pub presigned_get: bool,
    /// ListMultipartUploads answers (so leftovers of cut-off uploads can be found).
    pub list_uploads: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    Sha256,
    Crc64Nvme,
}

/// How uploads are made at one destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uses {
    pub checksum: Option<Checksum>,
    pub unsigned_payload: bool,
    pub conditional_writes: bool,
    pub part_size: usize,
    pub parts_in_flight: usize,
    pub max_parts: u32,
    pub presign: bool,
    pub list_uploads: bool,
}

impl Uses {
    /// From what was learned (None: never probed). `https`: the endpoint is; an unsigned payload
    /// is used only there, where TLS guards the bytes the signature no longer covers.
    pub fn from(learned: Option<&Learned>, https: bool) -> Uses {
        let Some(l) = learned else {
            return Uses {
                checksum: None,
                unsigned_payload: false,
                conditional_writes: false,
                part_size: PART_SIZE,
                parts_in_flight: PARTS_MEMORY / PART_SIZE,
                max_parts: S3_MAX_PARTS,
                presign: true,
                list_uploads: true,
            };
        };
        let unsigned_payload = l.unsigned_payload && https;
        // SHA-256 is computed for a signed payload anyway; without one, CRC64NVME is far cheaper.
        let checksum = Uses::checksum_for(l, unsigned_payload).filter(|_| l.multipart_checksums);
        let max_parts = l.max_parts.unwrap_or(S3_MAX_PARTS).clamp(1, S3_MAX_PARTS);
        let wanted = PART_SIZE.saturating_mul(S3_MAX_PARTS as usize) / max_parts as usize;
        let part_size = wanted.clamp(PART_SIZE, MAX_PART_SIZE);
        Uses {
            checksum,
            unsigned_payload,
            conditional_writes: l.conditional_writes,
            part_size,
            parts_in_flight: (PARTS_MEMORY / part_size).max(1),
            max_parts,
            presign: l.presigned_get,
            list_uploads: l.list_uploads,
        }
    }

    /// The checksum a service that verifies these takes. SHA-256 is computed for a signed
    /// payload anyway; without one, CRC64NVME is far cheaper.
    pub fn checksum_for(l: &Learned, unsigned_payload: bool) -> Option<Checksum> {
        match (unsigned_payload, l.sha256_verified, l.crc64nvme_verified) {
            (true, _, true) | (false, false, true) => Some(Checksum::Crc64Nvme),
            (_, true, _) => Some(Checksum::Sha256),
            _ => None,
        }
    }

    /// The largest artifact the parts can hold.
    pub fn largest(&self) -> u64 {
        self.part_size as u64 * u64::from(self.max_parts)
    }

    /// In words, for the destination's pages.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        lines.push(match self.checksum {
            Some(Checksum::Sha256) => "x-amz-checksum-sha256 on every upload, verified by the service".into(),
            Some(Checksum::Crc64Nvme) => "x-amz-checksum-crc64nvme on every upload, verified by the service".into(),
            None => "no checksum headers (the service does not verify them)".into(),
        });
        lines.push(if self.unsigned_payload { "UNSIGNED-PAYLOAD over https" } else { "signed payloads" }.into());
        if self.conditional_writes {
            lines.push(
                "If-None-Match: * on uploads that fit one request: an existing backup is never overwritten".into(),
            );
        }
        let mib = self.part_size / (1024 * 1024);
        if self.max_parts < S3_MAX_PARTS {
            let gib = self.largest() as f64 / f64::from(1u32 << 30);
            lines.push(format!("parts of {mib} MiB (at most {} parts: artifacts up to {gib:.1} GiB)", self.max_parts));
        } else {
            lines.push(format!("multipart uploads in parts of {mib} MiB"));
        }
        lines
            .push(if self.presign { "presigned download links" } else { "downloads streamed through Devpilot" }.into());
        if !self.list_uploads {
            lines.push("no search for leftovers of cut-off uploads (add a lifecycle rule)".into());
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_optional_before_a_probe() {
        let uses = Uses::from(None, true);
        assert_eq!((uses.checksum, uses.unsigned_payload, uses.conditional_writes), (None, false, false));
        assert_eq!((uses.part_size, uses.max_parts), (PART_SIZE, S3_MAX_PARTS));
    }

    #[test]
    fn checksums_and_payloads_follow_what_works() {
        let l = Learned {
            sha256_verified: true,
            crc64nvme_verified: true,
            multipart_checksums: true,
            unsigned_payload: true,
            ..Learned::default()
        };
        assert_eq!(Uses::from(Some(&l), true).checksum, Some(Checksum::Crc64Nvme));
        let plain = Uses::from(Some(&l), false);
        assert_eq!((plain.checksum, plain.unsigned_payload), (Some(Checksum::Sha256), false));
        assert_eq!(Uses::from(Some(&Learned::default()), true).checksum, None);
        let single_only = Learned { sha256_verified: true, ..Learned::default() };
        assert_eq!(Uses::from(Some(&single_only), false).checksum, None, "not yet seen to work in a multipart upload");
    }

    #[test]
    fn a_part_cap_makes_parts_bigger() {
        let l = Learned { max_parts: Some(2), ..Learned::default() };
        let uses = Uses::from(Some(&l), false);
        assert_eq!((uses.part_size, uses.parts_in_flight, uses.max_parts), (MAX_PART_SIZE, 1, 2));
        let aws = Uses::from(Some(&Learned { max_parts: None, ..Learned::default() }), false);
        assert_eq!(aws.part_size, PART_SIZE);
    }
}
