//! Parsing /proc/swaps.

use rescue_core::mountinfo::unescape_path;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapArea {
    pub path: PathBuf,
    /// "partition" or "file".
    pub kind: String,
}

pub fn parse(text: &str) -> Vec<SwapArea> {
    text.lines()
        .skip(1) // the header line
        .filter_map(|l| {
            let mut fields = l.split_whitespace();
            let path = fields.next()?;
            let kind = fields.next()?;
            Some(SwapArea {
                path: unescape_path(path),
                kind: kind.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_partitions_and_files() {
        let text = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
                    /dev/vda2                               partition\t2097148\t\t0\t\t-2\n\
                    /swap\\040file                      file\t\t1048572\t\t0\t\t-3\n";
        let areas = parse(text);
        assert_eq!(areas.len(), 2);
        assert_eq!(areas[0].path, PathBuf::from("/dev/vda2"));
        assert_eq!(areas[0].kind, "partition");
        assert_eq!(areas[1].path, PathBuf::from("/swap file"));
        assert_eq!(areas[1].kind, "file");
    }

    #[test]
    fn header_only_means_no_swap() {
        assert!(parse("Filename\tType\tSize\tUsed\tPriority\n").is_empty());
    }
}
