//! Mount points in one normal form, so that two spellings of a directory are one mount
//! point and no mount point leads out of the root the restore mounts under.
//!
//! A mount point is absolute, has no `.`, `..` or empty components and no trailing
//! slash: `//home/./ann/` is `/home/ann`, `/` stays `/`. A `..` is refused rather than
//! resolved: on a medium it is a mistake or an attack, and which directory it meant is
//! not ours to guess.

use std::fmt;
use std::path::{Path, PathBuf};

/// The longest path Linux takes (PATH_MAX, with its terminating NUL).
pub const MAX_MOUNT_POINT_BYTES: usize = 4095;
/// The longest name of one directory (NAME_MAX).
pub const MAX_NAME_BYTES: usize = 255;

/// How much of a bad mount point an error shows.
const SHOWN_BYTES: usize = 80;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountPointError {
    #[error("mount point {} is not an absolute path: it must start with /", shown(.0))]
    NotAbsolute(String),
    #[error(
        "mount point {} has a \"..\" component: write the directory it means without \"..\"",
        shown(.0)
    )]
    DotDot(String),
    #[error("mount point {} holds a NUL byte, which no path may hold", shown(.0))]
    Nul(String),
    #[error(
        "mount point {} is {len} bytes long: a path holds at most {MAX_MOUNT_POINT_BYTES}",
        shown(.raw)
    )]
    TooLong { raw: String, len: usize },
    #[error(
        "mount point {} has a component of {len} bytes: a directory name holds at most \
         {MAX_NAME_BYTES}",
        shown(.raw)
    )]
    NameTooLong { raw: String, len: usize },
}

/// The mount point quoted, cut short when long.
fn shown(raw: &str) -> String {
    if raw.len() <= SHOWN_BYTES {
        return format!("{raw:?}");
    }
    let mut end = SHOWN_BYTES;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}...", &raw[..end])
}

/// A mount point in normal form. The only way to make one is [`MountPoint::parse`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MountPoint(String);

impl MountPoint {
    pub fn parse(raw: &str) -> Result<MountPoint, MountPointError> {
        if raw.len() > MAX_MOUNT_POINT_BYTES {
            return Err(MountPointError::TooLong {
                raw: raw.to_string(),
                len: raw.len(),
            });
        }
        if raw.contains('\0') {
            return Err(MountPointError::Nul(raw.to_string()));
        }
        if !raw.starts_with('/') {
            return Err(MountPointError::NotAbsolute(raw.to_string()));
        }
        let mut normal = String::with_capacity(raw.len());
        for name in raw.split('/').filter(|c| !c.is_empty() && *c != ".") {
            if name == ".." {
                return Err(MountPointError::DotDot(raw.to_string()));
            }
            if name.len() > MAX_NAME_BYTES {
                return Err(MountPointError::NameTooLong {
                    raw: raw.to_string(),
                    len: name.len(),
                });
            }
            normal.push('/');
            normal.push_str(name);
        }
        if normal.is_empty() {
            normal.push('/');
        }
        Ok(MountPoint(normal))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// The directory names from the root down: none for `/`.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }

    /// How many directories deep it is: 0 for `/`, 2 for `/boot/efi`.
    pub fn depth(&self) -> usize {
        self.names().count()
    }

    /// The path without its leading slash: "" for `/`, "home/ann" for `/home/ann`.
    pub fn relative(&self) -> &str {
        &self.0[1..]
    }

    /// Where it lies under `root`: `/home` under `/mnt/restore` is `/mnt/restore/home`,
    /// `/` is `root` itself. Inside `root` always, since no component is `..`.
    pub fn under(&self, root: &Path) -> PathBuf {
        let mut dir = root.to_path_buf();
        dir.extend(self.names());
        dir
    }

    /// `self` is `other` or lies below it (`/home/ann` is within `/home` and `/`).
    pub fn is_within(&self, other: &MountPoint) -> bool {
        other.is_root()
            || self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.as_bytes()[other.0.len()] == b'/')
    }
}

impl fmt::Display for MountPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for MountPoint {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(raw: &str) -> String {
        MountPoint::parse(raw).unwrap().to_string()
    }

    #[test]
    fn spellings_of_one_directory_are_one_mount_point() {
        assert_eq!(normal("/"), "/");
        assert_eq!(normal("//"), "/");
        assert_eq!(normal("/./"), "/");
        assert_eq!(normal("/home"), "/home");
        assert_eq!(normal("/home/"), "/home");
        assert_eq!(normal("//home//ann/./"), "/home/ann");
        assert_eq!(normal("/boot/efi"), "/boot/efi");
        // Dots inside names are names.
        assert_eq!(
            normal("/srv/.cache/..x/...").as_str(),
            "/srv/.cache/..x/..."
        );
    }

    #[test]
    fn refuses_what_is_not_a_plain_absolute_path() {
        for (raw, want) in [
            ("", "not an absolute path"),
            ("home", "not an absolute path"),
            ("./home", "not an absolute path"),
            ("/mnt/../../etc", "has a \"..\" component"),
            ("/..", "has a \"..\" component"),
            ("/home/..", "has a \"..\" component"),
            ("/ho\0me", "NUL byte"),
        ] {
            let e = MountPoint::parse(raw).unwrap_err().to_string();
            assert!(e.contains(want), "{raw:?}: {e}");
        }
    }

    #[test]
    fn bounds_the_length_of_the_path_and_of_each_name() {
        let long_name = format!("/{}", "n".repeat(MAX_NAME_BYTES));
        assert!(MountPoint::parse(&long_name).is_ok());
        let e = MountPoint::parse(&format!("{long_name}n")).unwrap_err();
        assert!(
            matches!(e, MountPointError::NameTooLong { len: 256, .. }),
            "{e}"
        );

        let deep = "/d".repeat(MAX_MOUNT_POINT_BYTES / 2);
        assert_eq!(deep.len(), MAX_MOUNT_POINT_BYTES - 1);
        assert!(MountPoint::parse(&deep).is_ok());
        let e = MountPoint::parse(&format!("{deep}/x")).unwrap_err();
        assert!(matches!(e, MountPointError::TooLong { .. }), "{e}");
        // The message quotes only the start of it.
        let msg = e.to_string();
        assert!(msg.len() < 200, "{msg}");
        assert!(msg.contains("is 4096 bytes long"), "{msg}");
    }

    #[test]
    fn under_stays_in_the_root() {
        let root = Path::new("/mnt/restore");
        let at = |raw: &str| MountPoint::parse(raw).unwrap().under(root);
        assert_eq!(at("/"), root);
        assert_eq!(at("//"), root);
        assert_eq!(at("/home/ann/"), Path::new("/mnt/restore/home/ann"));
        assert_eq!(at("/./boot//efi"), Path::new("/mnt/restore/boot/efi"));
    }

    #[test]
    fn within() {
        let mp = |raw: &str| MountPoint::parse(raw).unwrap();
        assert!(mp("/home/ann").is_within(&mp("/home")));
        assert!(mp("/home").is_within(&mp("/home")));
        assert!(mp("/home").is_within(&mp("/")));
        assert!(mp("/").is_within(&mp("/")));
        assert!(!mp("/homer").is_within(&mp("/home")));
        assert!(!mp("/").is_within(&mp("/home")));
        assert_eq!(mp("/").depth(), 0);
        assert_eq!(mp("/boot/efi").depth(), 2);
        assert_eq!(mp("/boot/efi").relative(), "boot/efi");
        assert_eq!(mp("/").relative(), "");
    }
}
