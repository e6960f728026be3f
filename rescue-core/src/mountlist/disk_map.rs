//! `OLD=NEW[:SIZE]` disk mappings as users write them on command lines.

use crate::size::{parse_bytes, SizeError};
use std::str::FromStr;

/// Restore the layout of disk `old` onto `new`, which has `size` bytes when given
/// (otherwise the size of the attached disk `new`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskMapSpec {
    pub old: String,
    pub new: String,
    pub size: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum DiskMapError {
    #[error("disk mapping {0:?}: expected OLD=NEW or OLD=NEW:SIZE, such as /dev/sda=/dev/vdb:20g")]
    Form(String),
    #[error("disk mapping {spec:?}: bad size")]
    Size {
        spec: String,
        #[source]
        source: SizeError,
    },
}

impl FromStr for DiskMapSpec {
    type Err = DiskMapError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let form = || DiskMapError::Form(spec.to_string());
        let (old, rest) = spec.split_once('=').ok_or_else(form)?;
        let (new, size) = match rest.split_once(':') {
            Some((new, size)) => (new, Some(size)),
            None => (rest, None),
        };
        if old.is_empty() || new.is_empty() {
            return Err(form());
        }
        let size = size
            .map(|s| {
                parse_bytes(s).map_err(|source| DiskMapError::Size {
                    spec: spec.to_string(),
                    source,
                })
            })
            .transpose()?;
        Ok(DiskMapSpec {
            old: full_path(old),
            new: full_path(new),
            size,
        })
    }
}

/// "vda" and "/dev/vda" name the same disk, as on the kernel command line.
fn full_path(name: &str) -> String {
    if name.starts_with('/') {
        name.to_string()
    } else {
        format!("/dev/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths_names_and_sizes() {
        let m: DiskMapSpec = "/dev/sda=/dev/vdb".parse().unwrap();
        assert_eq!(
            (m.old.as_str(), m.new.as_str(), m.size),
            ("/dev/sda", "/dev/vdb", None)
        );
        let m: DiskMapSpec = "vda=vdb:20g".parse().unwrap();
        assert_eq!(m.old, "/dev/vda");
        assert_eq!(m.new, "/dev/vdb");
        assert_eq!(m.size, Some(20 << 30));
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in ["", "vda", "=vdb", "vda=", "vda=vdb:big"] {
            let err = bad.parse::<DiskMapSpec>().unwrap_err();
            assert!(err.to_string().contains("disk mapping"), "{bad}: {err}");
        }
    }
}
