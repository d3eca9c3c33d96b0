//! Write-ahead log positions and file names, as PostgreSQL writes them (`xlog_internal.h`).
//! A name read from a listing is hostile input: only exactly PostgreSQL's own spellings parse
//! (24 upper-case hex digits, optionally `.partial`, or 8 and `.history`), so no listed name can
//! carry a path, another case or a suffix Devpilot does not know.

use std::fmt;
use std::str::FromStr;

/// A position in the write-ahead log, written `16/B374D848` (high and low 32 bits in hex).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl FromStr for Lsn {
    type Err = String;

    fn from_str(text: &str) -> Result<Lsn, String> {
        let bad = || format!("“{}” is not a WAL position such as 16/B374D848", text.escape_debug());
        let (high, low) = text.split_once('/').ok_or_else(bad)?;
        let half = |part: &str| {
            let hex = !part.is_empty() && part.len() <= 8 && part.bytes().all(|b| b.is_ascii_hexdigit());
            if hex { u32::from_str_radix(part, 16).map_err(|_| bad()) } else { Err(bad()) }
        };
        Ok(Lsn((u64::from(half(high)?) << 32) | u64::from(half(low)?)))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// The cluster's WAL segment size (`initdb --wal-segsize`): a power of two from 1 MiB to 1 GiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SegmentSize(u64);

impl SegmentSize {
    /// PostgreSQL's default, 16 MiB.
    pub const DEFAULT: SegmentSize = SegmentSize(16 * 1024 * 1024);

    pub fn new(bytes: u64) -> Result<SegmentSize, String> {
        if bytes.is_power_of_two() && (1 << 20..=1 << 30).contains(&bytes) {
            Ok(SegmentSize(bytes))
        } else {
            Err(format!("{bytes} bytes is not a WAL segment size (a power of two from 1 MiB to 1 GiB)"))
        }
    }

    pub fn bytes(self) -> u64 {
        self.0
    }

    /// How many segments one 4 GiB "log id" (the middle 8 hex digits of a name) holds.
    pub fn segments_per_id(self) -> u64 {
        0x1_0000_0000 / self.0
    }

    /// The segment holding `lsn`.
    pub fn segment_of(self, lsn: Lsn) -> u64 {
        lsn.0 / self.0
    }

    /// Where segment `number` begins.
    pub fn start_of(self, number: u64) -> Lsn {
        Lsn(number.saturating_mul(self.0))
    }
}

/// One segment of one timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Segment {
    pub timeline: u32,
    pub number: u64,
}

impl Segment {
    /// PostgreSQL's name for it: timeline, log id and segment within it, 8 hex digits each.
    pub fn file_name(self, size: SegmentSize) -> String {
        let per_id = size.segments_per_id();
        format!("{:08X}{:08X}{:08X}", self.timeline, self.number / per_id, self.number % per_id)
    }
}

/// A file of a WAL archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WalFile {
    /// A complete segment.
    Segment(Segment),
    /// The part of a segment received so far (`….partial`).
    Partial(Segment),
    /// A timeline's history (`0000000X.history`), written when the timeline began.
    History(u32),
}

impl WalFile {
    /// Parses a listed name; anything that is not exactly a name PostgreSQL writes is None.
    pub fn parse(name: &str, size: SegmentSize) -> Option<WalFile> {
        if let Some(timeline) = name.strip_suffix(".history") {
            return hex8(timeline).filter(|t| *t > 0).map(WalFile::History);
        }
        let (segment, partial) = match name.strip_suffix(".partial") {
            Some(segment) => (segment, true),
            None => (name, false),
        };
        if segment.len() != 24 || !segment.is_char_boundary(8) || !segment.is_char_boundary(16) {
            return None;
        }
        let timeline = hex8(&segment[..8]).filter(|t| *t > 0)?;
        let log_id = u64::from(hex8(&segment[8..16])?);
        let within = u64::from(hex8(&segment[16..])?);
        let per_id = size.segments_per_id();
        if within >= per_id {
            return None;
        }
        let segment = Segment { timeline, number: log_id * per_id + within };
        Some(if partial { WalFile::Partial(segment) } else { WalFile::Segment(segment) })
    }

    pub fn file_name(&self, size: SegmentSize) -> String {
        match self {
            WalFile::Segment(segment) => segment.file_name(size),
            WalFile::Partial(segment) => format!("{}.partial", segment.file_name(size)),
            WalFile::History(timeline) => format!("{timeline:08X}.history"),
        }
    }

    pub fn timeline(&self) -> u32 {
        match self {
            WalFile::Segment(segment) | WalFile::Partial(segment) => segment.timeline,
            WalFile::History(timeline) => *timeline,
        }
    }

    /// The segment, for a complete or partial one.
    pub fn segment(&self) -> Option<Segment> {
        match self {
            WalFile::Segment(segment) | WalFile::Partial(segment) => Some(*segment),
            WalFile::History(_) => None,
        }
    }
}

/// Exactly 8 upper-case hex digits.
fn hex8(text: &str) -> Option<u32> {
    let upper_hex = |b: u8| b.is_ascii_digit() || (b'A'..=b'F').contains(&b);
    if text.len() == 8 && text.bytes().all(upper_hex) { u32::from_str_radix(text, 16).ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn size(bytes: u64) -> SegmentSize {
        SegmentSize::new(bytes).expect("segment size")
    }

    #[test]
    fn positions_read_and_write_as_postgresql_does() {
        let lsn: Lsn = "16/B374D848".parse().expect("lsn");
        assert_eq!(lsn, Lsn(0x16_B374_D848));
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert_eq!("0/0".parse::<Lsn>(), Ok(Lsn(0)));
        assert_eq!("0/2000028".parse::<Lsn>().expect("lsn").to_string(), "0/2000028");
        assert_eq!("ffffffff/ffffffff".parse::<Lsn>(), Ok(Lsn(u64::MAX)));
        assert!(Lsn(1) < Lsn(0x1_0000_0000));
        for bad in ["", "0", "/1", "1/", "1/2/3", "123456789/0", "0x1/2", "G/1", "+1/2", " 1/2"] {
            assert!(bad.parse::<Lsn>().is_err(), "{bad}");
        }
    }

    #[test]
    fn segment_sizes_are_powers_of_two_from_one_mebibyte_to_one_gibibyte() {
        for good in [MIB, 16 * MIB, 1024 * MIB] {
            assert_eq!(size(good).bytes(), good);
        }
        for bad in [0, MIB / 2, 3 * MIB, 2048 * MIB] {
            assert!(SegmentSize::new(bad).is_err(), "{bad}");
        }
        assert_eq!(SegmentSize::DEFAULT.segments_per_id(), 256);
        assert_eq!(size(MIB).segments_per_id(), 4096);
    }

    #[test]
    fn positions_fall_in_segments() {
        let sixteen = SegmentSize::DEFAULT;
        assert_eq!(sixteen.segment_of("0/2000028".parse().expect("lsn")), 2);
        assert_eq!(sixteen.segment_of("16/B374D848".parse().expect("lsn")), 0x16 * 256 + 0xB3);
        assert_eq!(sixteen.start_of(0x16 * 256 + 0xB3), "16/B3000000".parse().expect("lsn"));
        let one = size(MIB);
        assert_eq!(one.segment_of("0/700028".parse().expect("lsn")), 7);
        assert_eq!(one.segment_of("1/700028".parse().expect("lsn")), 4096 + 7);
        assert_eq!(one.start_of(4096 + 7), "1/700000".parse().expect("lsn"));
    }

    #[test]
    fn names_with_sixteen_mebibyte_segments() {
        let sixteen = SegmentSize::DEFAULT;
        let name = "0000000100000016000000B3";
        let parsed = WalFile::parse(name, sixteen).expect("name");
        assert_eq!(parsed, WalFile::Segment(Segment { timeline: 1, number: 0x16 * 256 + 0xB3 }));
        assert_eq!(parsed.file_name(sixteen), name);
        // 16 MiB segments end at …FF within a log id.
        assert_eq!(WalFile::parse("000000010000000100000100", sixteen), None);
        let partial = WalFile::parse("00000002000000000000000A.partial", sixteen).expect("partial");
        assert_eq!(partial, WalFile::Partial(Segment { timeline: 2, number: 10 }));
        assert_eq!(partial.file_name(sixteen), "00000002000000000000000A.partial");
    }

    #[test]
    fn names_with_one_mebibyte_segments() {
        let one = size(MIB);
        let parsed = WalFile::parse("000000010000000100000FFF", one).expect("name");
        assert_eq!(parsed, WalFile::Segment(Segment { timeline: 1, number: 4096 + 0xFFF }));
        assert_eq!(WalFile::parse("000000010000000000001000", one), None);
        for number in [0, 1, 4095, 4096, 4097, 123_456_789] {
            for file in
                [WalFile::Segment(Segment { timeline: 3, number }), WalFile::Partial(Segment { timeline: 3, number })]
            {
                assert_eq!(WalFile::parse(&file.file_name(one), one), Some(file));
            }
        }
    }

    #[test]
    fn histories_round_trip() {
        let history = WalFile::parse("0000000A.history", SegmentSize::DEFAULT).expect("history");
        assert_eq!(history, WalFile::History(10));
        assert_eq!(history.file_name(SegmentSize::DEFAULT), "0000000A.history");
        assert_eq!(history.timeline(), 10);
        assert_eq!(history.segment(), None);
    }

    #[test]
    fn anything_else_is_refused() {
        let sixteen = SegmentSize::DEFAULT;
        for hostile in [
            "",
            "../x",
            "../000000010000000000000001",
            "000000010000000000000001/../../etc",
            "0000000100000000000000aB",
            "00000001000000000000000a",
            "000000010000000000000001.backup",
            "000000010000000000000002.00000028.backup",
            "000000010000000000000001.partial.partial",
            "000000010000000000000001.PARTIAL",
            "00000001000000000000001",
            "0000000100000000000000011",
            " 000000010000000000000001",
            "000000010000000000000001\n",
            "000000000000000000000001",
            "00000000.history",
            "0000000a.history",
            "1.history",
            "000000010000000000000001.history",
            "0000000é0000000000000001",
            "ÀÀÀÀÀÀÀÀÀÀÀÀ",
        ] {
            assert_eq!(WalFile::parse(hostile, sixteen), None, "{hostile:?}");
        }
    }
}
