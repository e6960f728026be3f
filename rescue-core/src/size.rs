//! Sizes as users write them ("650m", "4.7GB", "2048s", "50%") and as we print them.
//!
//! A bare number is bytes. k/m/g/t/p and KiB..PiB are powers of 1024 (as sfdisk and
//! Mondo's `-s 650m` read them); kB/MB/GB/TB/PB are powers of 1000, so "4.7GB" is a
//! DVD's 4.7e9 bytes. Units are case-insensitive. Decimals round down to whole bytes.

use std::fmt;
use std::str::FromStr;

const EXAMPLES: &str = "such as 650m, 4.7G, 4.7GB, 512B, 2048s or 50%";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("empty size: give a number with an optional unit, {EXAMPLES}")]
    Empty,
    #[error("size {input:?} has no valid number: write digits with at most one decimal point, {EXAMPLES}")]
    BadNumber { input: String },
    #[error("size {input:?} has an unknown unit {unit:?}: use k/m/g/t/p or KiB..PiB (1024), kB..PB (1000), B (bytes), s (sectors) or %, {EXAMPLES}")]
    UnknownUnit { input: String, unit: String },
    #[error("size {input:?} is negative: sizes are zero or more, {EXAMPLES}")]
    Negative { input: String },
    #[error("size {input:?} is too large: at most 16 EiB (16384p) fits")]
    Overflow { input: String },
    #[error("size {input:?} is not a percentage above 0 and at most 100, such as 50%")]
    PercentOutOfRange { input: String },
    #[error("size {input:?} is a fraction of a sector: give whole sectors, such as 2048s")]
    FractionalSectors { input: String },
    #[error("size {input:?} is {what}, but a size in bytes is needed here, such as 650m or 4.7G")]
    NotBytes { input: String, what: &'static str },
    #[error("size list {input:?} has an empty item at position {position}: separate sizes with single commas, such as 650m,4.7g")]
    EmptyListItem { input: String, position: usize },
}

/// A size as given: bytes, a count of sectors, or a share of some whole.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SizeSpec {
    Bytes(u64),
    Sectors(u64),
    /// Above 0 and at most 100.
    Percent(f64),
}

impl SizeSpec {
    /// Whole sectors: bytes round up (so the data fits), a percentage of `total_sectors`
    /// rounds down (so it never exceeds the whole).
    pub fn to_sectors(&self, sector_size: u32, total_sectors: u64) -> u64 {
        match *self {
            SizeSpec::Bytes(b) => b.div_ceil(u64::from(sector_size.max(1))),
            SizeSpec::Sectors(s) => s,
            SizeSpec::Percent(p) => {
                // f64 is exact for any real disk (< 2^53 sectors); the cast saturates.
                let share = (total_sectors as f64 * p / 100.0).floor() as u64;
                share.min(total_sectors)
            }
        }
    }
}

impl FromStr for SizeSpec {
    type Err = SizeError;

    fn from_str(s: &str) -> Result<SizeSpec, SizeError> {
        let input = s.trim();
        if input.is_empty() {
            return Err(SizeError::Empty);
        }
        let owned = || input.to_string();
        if input.starts_with('-') {
            return Err(SizeError::Negative { input: owned() });
        }
        let split = input
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(input.len());
        let (number, unit) = input.split_at(split);
        let unit = unit.trim_start();
        let (whole, fraction) =
            split_number(number).ok_or_else(|| SizeError::BadNumber { input: owned() })?;

        match unit.to_ascii_lowercase().as_str() {
            "s" => {
                if fraction.trim_end_matches('0').is_empty() {
                    let n = scale(whole, "", 1)
                        .ok_or_else(|| SizeError::Overflow { input: owned() })?;
                    Ok(SizeSpec::Sectors(n))
                } else {
                    Err(SizeError::FractionalSectors { input: owned() })
                }
            }
            "%" => {
                let p: f64 = number
                    .parse()
                    .map_err(|_| SizeError::BadNumber { input: owned() })?;
                if p > 0.0 && p <= 100.0 {
                    Ok(SizeSpec::Percent(p))
                } else {
                    Err(SizeError::PercentOutOfRange { input: owned() })
                }
            }
            lower => {
                let multiplier = unit_multiplier(lower).ok_or_else(|| SizeError::UnknownUnit {
                    input: owned(),
                    unit: unit.to_string(),
                })?;
                let n = scale(whole, fraction, multiplier)
                    .ok_or_else(|| SizeError::Overflow { input: owned() })?;
                Ok(SizeSpec::Bytes(n))
            }
        }
    }
}

impl fmt::Display for SizeSpec {
    /// Prints a form that parses back to the same value (bytes exactly, not rounded).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SizeSpec::Bytes(n) => {
                let exact = UNITS
                    .iter()
                    .rev()
                    .find(|(_, unit)| n != 0 && n % unit == 0)
                    .filter(|(_, unit)| *unit > 1);
                match exact {
                    Some((name, unit)) => write!(f, "{}{name}", n / unit),
                    None => write!(f, "{n}B"),
                }
            }
            SizeSpec::Sectors(n) => write!(f, "{n}s"),
            SizeSpec::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// Parses a size that must be in bytes (not sectors, not a percentage).
pub fn parse_bytes(s: &str) -> Result<u64, SizeError> {
    match s.parse::<SizeSpec>()? {
        SizeSpec::Bytes(n) => Ok(n),
        SizeSpec::Sectors(_) => Err(SizeError::NotBytes {
            input: s.trim().to_string(),
            what: "a count of sectors",
        }),
        SizeSpec::Percent(_) => Err(SizeError::NotBytes {
            input: s.trim().to_string(),
            what: "a percentage",
        }),
    }
}

/// Parses a comma-separated list of byte sizes, as in Mondo's `-s 650m,4.7g`.
pub fn parse_size_list(s: &str) -> Result<Vec<u64>, SizeError> {
    if s.trim().is_empty() {
        return Err(SizeError::Empty);
    }
    s.split(',')
        .enumerate()
        .map(|(i, item)| {
            if item.trim().is_empty() {
                Err(SizeError::EmptyListItem {
                    input: s.to_string(),
                    position: i + 1,
                })
            } else {
                parse_bytes(item)
            }
        })
        .collect()
}

const KIB: u64 = 1024;
const UNITS: [(&str, u64); 6] = [
    ("B", 1),
    ("K", KIB),
    ("M", KIB * KIB),
    ("G", KIB * KIB * KIB),
    ("T", KIB * KIB * KIB * KIB),
    ("P", KIB * KIB * KIB * KIB * KIB),
];

/// Compact binary form that `parse_bytes` reads back: "0B", "512B", "650M", "4.7G".
/// Exact multiples print whole; others get one decimal, rounded to nearest, so they
/// read back close to (not exactly) the value.
pub fn format_bytes(n: u64) -> String {
    let mut idx = UNITS.iter().rposition(|(_, u)| n >= *u).unwrap_or(0);
    let (name, unit) = UNITS[idx];
    if n.is_multiple_of(unit) {
        return format!("{}{name}", n / unit);
    }
    let tenths = |unit: u64| (u128::from(n) * 10 + u128::from(unit) / 2) / u128::from(unit);
    let mut t = tenths(unit);
    // 1023.96K rounds to 1024.0K: say 1.0M instead.
    if t >= 10240 && idx + 1 < UNITS.len() {
        idx += 1;
        t = tenths(UNITS[idx].1);
    }
    // Near u64::MAX rounding up would print a size that does not parse back.
    if t * u128::from(UNITS[idx].1) / 10 > u128::from(u64::MAX) {
        t -= 1;
    }
    format!("{}.{}{}", t / 10, t % 10, UNITS[idx].0)
}

/// Splits "12.5" into ("12", "5"); None unless it is digits with at most one point and at
/// least one digit.
fn split_number(number: &str) -> Option<(&str, &str)> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    (digits_only(whole) && digits_only(fraction) && !(whole.is_empty() && fraction.is_empty()))
        .then_some((whole, fraction))
}

/// `whole.fraction * multiplier`, rounded down; None when it exceeds u64.
fn scale(whole: &str, fraction: &str, multiplier: u64) -> Option<u64> {
    let whole_value: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut total = whole_value.checked_mul(u128::from(multiplier))?;
    // 19 decimal digits keep the arithmetic in u128; further digits are below a byte.
    let fraction = &fraction[..fraction.len().min(19)];
    if !fraction.is_empty() {
        let numerator: u128 = fraction.parse().ok()?;
        let denominator = 10u128.pow(u32::try_from(fraction.len()).ok()?);
        total = total.checked_add(numerator * u128::from(multiplier) / denominator)?;
    }
    u64::try_from(total).ok()
}

fn unit_multiplier(lower: &str) -> Option<u64> {
    let power = |c: char| "kmgtp".find(c).map(|i| i as u32 + 1);
    let mut chars = lower.chars();
    match (chars.next(), chars.next(), chars.next(), chars.next()) {
        (None, ..) | (Some('b'), None, ..) => Some(1),
        (Some(c), None, ..) => power(c).map(|p| KIB.pow(p)),
        (Some(c), Some('b'), None, _) => power(c).map(|p| 1000u64.pow(p)),
        (Some(c), Some('i'), Some('b'), None) => power(c).map(|p| KIB.pow(p)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;
    const GIB: u64 = 1024 * MIB;

    #[test]
    fn parses_good_sizes() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("512", 512),
            ("512B", 512),
            ("512b", 512),
            ("1k", 1024),
            ("1K", 1024),
            ("650m", 650 * MIB),
            ("650M", 650 * MIB),
            ("4.7G", 5_046_586_572),
            ("1.5t", 1536 * GIB),
            ("2p", 2 * 1024 * 1024 * GIB),
            ("1KiB", 1024),
            ("3mib", 3 * MIB),
            ("2GiB", 2 * GIB),
            ("1TiB", 1024 * GIB),
            ("1PiB", 1024 * 1024 * GIB),
            ("1kB", 1000),
            ("1KB", 1000),
            ("650MB", 650_000_000),
            ("4.7GB", 4_700_000_000),
            ("4.7gb", 4_700_000_000),
            ("2TB", 2_000_000_000_000),
            ("1PB", 1_000_000_000_000_000),
            (" 5m ", 5 * MIB),
            ("4.7 GB", 4_700_000_000),
            (".5k", 512),
            ("5.k", 5120),
            ("0.0009765625k", 1),
            ("0.3", 0),
        ];
        for (text, want) in cases {
            assert_eq!(parse_bytes(text), Ok(*want), "parsing {text:?}");
        }
        // 16384 PiB is exactly 2^64: one too many.
        assert!(matches!(
            parse_bytes("16384p"),
            Err(SizeError::Overflow { .. })
        ));
        assert_eq!(parse_bytes("16383p"), Ok(16383 << 50));
        assert_eq!(parse_bytes("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn parses_sectors_and_percent() {
        assert_eq!("2048s".parse(), Ok(SizeSpec::Sectors(2048)));
        assert_eq!("2048S".parse(), Ok(SizeSpec::Sectors(2048)));
        assert_eq!("8.0s".parse(), Ok(SizeSpec::Sectors(8)));
        assert_eq!("50%".parse(), Ok(SizeSpec::Percent(50.0)));
        assert_eq!("12.5%".parse(), Ok(SizeSpec::Percent(12.5)));
        assert_eq!("100%".parse(), Ok(SizeSpec::Percent(100.0)));
        assert_eq!("650m".parse(), Ok(SizeSpec::Bytes(650 * MIB)));
    }

    type Check = fn(&SizeError) -> bool;

    #[test]
    fn rejects_bad_sizes() {
        use SizeError::*;
        let cases: &[(&str, Check)] = &[
            ("", |e| matches!(e, Empty)),
            ("   ", |e| matches!(e, Empty)),
            ("abc", |e| matches!(e, BadNumber { .. })),
            ("m", |e| matches!(e, BadNumber { .. })),
            (".", |e| matches!(e, BadNumber { .. })),
            ("1.2.3g", |e| matches!(e, BadNumber { .. })),
            ("1..2g", |e| matches!(e, BadNumber { .. })),
            (
                "10x",
                |e| matches!(e, UnknownUnit { unit, .. } if unit == "x"),
            ),
            ("5 m b", |e| matches!(e, UnknownUnit { .. })),
            ("5mm", |e| matches!(e, UnknownUnit { .. })),
            ("5kib2", |e| matches!(e, UnknownUnit { .. })),
            ("5e3", |e| matches!(e, UnknownUnit { .. })),
            ("5ib", |e| matches!(e, UnknownUnit { .. })),
            ("-5m", |e| matches!(e, Negative { .. })),
            ("-0", |e| matches!(e, Negative { .. })),
            ("99999999999999999999t", |e| matches!(e, Overflow { .. })),
            ("18446744073709551616", |e| matches!(e, Overflow { .. })),
            ("999999999999999999999999999999999999999999", |e| {
                matches!(e, Overflow { .. })
            }),
            ("99999999999999999999999s", |e| matches!(e, Overflow { .. })),
            ("150%", |e| matches!(e, PercentOutOfRange { .. })),
            ("0%", |e| matches!(e, PercentOutOfRange { .. })),
            ("100.01%", |e| matches!(e, PercentOutOfRange { .. })),
            ("%", |e| matches!(e, BadNumber { .. })),
            ("1.5s", |e| matches!(e, FractionalSectors { .. })),
        ];
        for (text, is_expected) in cases {
            match text.parse::<SizeSpec>() {
                Ok(v) => panic!("{text:?} parsed as {v:?}"),
                Err(e) => assert!(is_expected(&e), "{text:?} gave {e:?}"),
            }
        }
    }

    #[test]
    fn errors_say_what_and_show_an_example() {
        let msg = |s: &str| s.parse::<SizeSpec>().unwrap_err().to_string();
        assert!(msg("").contains("empty size"), "{}", msg(""));
        assert!(msg("10x").contains("unknown unit \"x\""), "{}", msg("10x"));
        assert!(msg("10x").contains("650m"));
        assert!(msg("-5m").contains("negative"));
        assert!(msg("abc").contains("no valid number"));
        assert!(msg("abc").contains("4.7G"));
        assert!(msg("150%").contains("50%"));
        assert!(msg("99999999999999999999t").contains("too large"));
    }

    #[test]
    fn parse_bytes_refuses_sectors_and_percent() {
        let e = parse_bytes("2048s").unwrap_err();
        assert!(e.to_string().contains("sectors"), "{e}");
        let e = parse_bytes("50%").unwrap_err();
        assert!(e.to_string().contains("percentage"), "{e}");
    }

    #[test]
    fn size_lists() {
        assert_eq!(
            parse_size_list("650m,4.7g"),
            Ok(vec![650 * MIB, 5_046_586_572])
        );
        assert_eq!(parse_size_list("700m"), Ok(vec![700 * MIB]));
        assert_eq!(
            parse_size_list(" 650m , 800m "),
            Ok(vec![650 * MIB, 800 * MIB])
        );
        assert!(matches!(
            parse_size_list("650m,,800m"),
            Err(SizeError::EmptyListItem { position: 2, .. })
        ));
        assert!(matches!(
            parse_size_list("650m,"),
            Err(SizeError::EmptyListItem { position: 2, .. })
        ));
        assert_eq!(parse_size_list(""), Err(SizeError::Empty));
        assert!(matches!(
            parse_size_list("650m,10x"),
            Err(SizeError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_size_list("650m,50%"),
            Err(SizeError::NotBytes { .. })
        ));
    }

    #[test]
    fn to_sectors_rounds_bytes_up_and_percent_down() {
        assert_eq!(SizeSpec::Bytes(0).to_sectors(512, 100), 0);
        assert_eq!(SizeSpec::Bytes(1).to_sectors(512, 100), 1);
        assert_eq!(SizeSpec::Bytes(512).to_sectors(512, 100), 1);
        assert_eq!(SizeSpec::Bytes(513).to_sectors(512, 100), 2);
        assert_eq!(SizeSpec::Bytes(MIB).to_sectors(4096, 100), 256);
        assert_eq!(
            SizeSpec::Bytes(u64::MAX).to_sectors(512, 1),
            u64::MAX / 512 + 1
        );
        assert_eq!(SizeSpec::Bytes(10).to_sectors(0, 1), 10);
        assert_eq!(SizeSpec::Sectors(7).to_sectors(512, 1), 7);
        assert_eq!(SizeSpec::Percent(50.0).to_sectors(512, 1001), 500);
        assert_eq!(SizeSpec::Percent(100.0).to_sectors(512, 1001), 1001);
        assert_eq!(SizeSpec::Percent(33.3).to_sectors(512, 1000), 333);
        assert_eq!(SizeSpec::Percent(100.0).to_sectors(512, u64::MAX), u64::MAX);
    }

    #[test]
    fn display_round_trips() {
        let specs = [
            SizeSpec::Bytes(0),
            SizeSpec::Bytes(512),
            SizeSpec::Bytes(1000),
            SizeSpec::Bytes(650 * MIB),
            SizeSpec::Bytes(5_046_586_572),
            SizeSpec::Bytes(u64::MAX),
            SizeSpec::Sectors(2048),
            SizeSpec::Percent(50.0),
            SizeSpec::Percent(12.5),
        ];
        for spec in specs {
            let text = spec.to_string();
            assert_eq!(text.parse(), Ok(spec), "{spec:?} printed as {text:?}");
        }
        assert_eq!(SizeSpec::Bytes(650 * MIB).to_string(), "650M");
        assert_eq!(SizeSpec::Bytes(1000).to_string(), "1000B");
        assert_eq!(SizeSpec::Bytes(0).to_string(), "0B");
        assert_eq!(SizeSpec::Sectors(2048).to_string(), "2048s");
        assert_eq!(SizeSpec::Percent(50.0).to_string(), "50%");
    }

    #[test]
    fn formats_compactly() {
        let cases: &[(u64, &str)] = &[
            (0, "0B"),
            (1, "1B"),
            (512, "512B"),
            (1023, "1023B"),
            (1024, "1K"),
            (1536, "1.5K"),
            (1025, "1.0K"),
            (650 * MIB, "650M"),
            (5_046_586_572, "4.7G"),
            (4_700_000_000, "4.4G"),
            (1024 * GIB, "1T"),
            (MIB - 1, "1.0M"),
            (GIB - 1, "1.0G"),
            (u64::MAX, "16383.9P"),
            (16383 << 50, "16383P"),
        ];
        for (n, want) in cases {
            assert_eq!(format_bytes(*n), *want, "formatting {n}");
        }
    }

    #[test]
    fn formatted_sizes_parse_back_closely() {
        for n in [
            0,
            1,
            512,
            1536,
            650 * MIB,
            5_046_586_572,
            3 * GIB + 7,
            u64::MAX,
        ] {
            let text = format_bytes(n);
            let back = parse_bytes(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let unit = UNITS.iter().rev().find(|(_, u)| n >= *u).map_or(1, |u| u.1);
            // Rounded to a tenth of the unit (down near u64::MAX, so it still parses).
            assert!(back.abs_diff(n) <= unit / 10 + 1, "{n} -> {text} -> {back}");
        }
    }
}
