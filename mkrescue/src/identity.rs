//! When media were made and the id that ties their volumes together.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

/// The time to record: SOURCE_DATE_EPOCH when set (reproducible builds), else now.
pub fn epoch() -> u64 {
    source_date_epoch().unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    })
}

fn source_date_epoch() -> Option<u64> {
    std::env::var("SOURCE_DATE_EPOCH").ok()?.trim().parse().ok()
}

/// Eight hex digits naming one run. Reproducible under SOURCE_DATE_EPOCH; otherwise the
/// process and the clock's nanoseconds keep two runs in the same second apart.
pub fn backup_id(hostname: &str, epoch: u64) -> String {
    let mut h = DefaultHasher::new();
    hostname.hash(&mut h);
    epoch.hash(&mut h);
    if source_date_epoch().is_none() {
        std::process::id().hash(&mut h);
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
            .hash(&mut h);
    }
    format!("{:08X}", h.finish() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_eight_uppercase_hex_digits() {
        let id = backup_id("web1", 1_700_000_000);
        assert_eq!(id.len(), 8);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
    }
}
