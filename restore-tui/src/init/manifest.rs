//! The files mkrescue leaves for the rescue system: the media's /rescue/manifest.json (read
//! and checked by rescue-core's `volume`) and the initramfs's /etc/rescue/tools.json.

pub use rescue_core::media::{Manifest, ToolsInfo as Tools};

pub fn parse_tools(text: &str) -> Result<Tools, serde_json::Error> {
    serde_json::from_str(text)
}

/// A Unix time as `2025-11-21 04:40 UTC`.
pub fn format_utc(secs: u64) -> String {
    let secs = i64::try_from(secs).unwrap_or(i64::MAX);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_tools_list() {
        let t = parse_tools(
            r#"{"available": {"mkfs.ext4": "/usr/sbin/mkfs.ext4"}, "missing": ["mkfs.btrfs"]}"#,
        )
        .unwrap();
        assert_eq!(t.available["mkfs.ext4"], "/usr/sbin/mkfs.ext4");
        assert_eq!(t.missing, vec!["mkfs.btrfs"]);
        assert_eq!(parse_tools("{}").unwrap(), Tools::default());
    }

    #[test]
    fn dates_in_utc() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(1_763_700_000), "2025-11-21 04:40 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00 UTC");
    }
}
