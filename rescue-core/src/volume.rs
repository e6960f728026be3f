//! The volumes of a backup as they are found: ISO images (a file, or written to a block
//! device) and plain directories (`--output-format dir`), read the same way.
//!
//! A volume holds `/rescue/manifest.json` ([`Manifest`]); [`Volume::open_file`] gives any
//! file of it as a stream, whatever the volume is. [`find_volumes`] takes what a user
//! gives `--media`: one image or device, one volume directory, or a directory holding
//! `rescue-N.iso` images or `rescue-N/` directories.
//!
//! ```no_run
//! use rescue_core::volume::find_volumes;
//! use std::io::Read;
//!
//! for volume in find_volumes("/srv/rescue".as_ref()).unwrap() {
//!     let m = volume.manifest();
//!     println!("{}: volume {} of backup {}", volume.path().display(), m.volume, m.backup_id);
//!     for set in &m.sets {
//!         let mut data = volume.open_file(&set.file).unwrap();
//!         std::io::copy(&mut data, &mut std::io::sink()).unwrap();
//!     }
//! }
//! ```

use crate::iso9660::{self, Image};
use crate::media::{Manifest, LABEL_PREFIX, MANIFEST_PATH, MOUNTLIST_PATH};
use crate::mountlist::{self, LoadError, Mountlist};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// The largest manifest read (a manifest lists a volume's sets: a few hundred bytes each).
pub const MAX_MANIFEST: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    // The cause is printed by the error chain, not repeated here.
    #[error("cannot read {}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Neither a directory with `rescue/manifest.json` nor an ISO 9660 image.
    #[error("{}: not a rescue volume: {reason}", .path.display())]
    NotAVolume { path: PathBuf, reason: String },
    #[error("{}: reading {MANIFEST_PATH}", .path.display())]
    Manifest {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: {MANIFEST_PATH} is not a valid manifest", .path.display())]
    BadManifest {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{}: no rescue volume there (looked for an ISO image, a directory with \
         rescue/manifest.json, and rescue-N.iso or rescue-N/ inside it)",
        .path.display()
    )]
    NoVolumes { path: PathBuf },
    #[error("{}: reading {MOUNTLIST_PATH}", .path.display())]
    Mountlist {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: {MOUNTLIST_PATH} is not a valid mountlist", .path.display())]
    BadMountlist {
        path: PathBuf,
        #[source]
        source: LoadError,
    },
}

/// A mountlist far larger than any real one is refused rather than read.
const MAX_MOUNTLIST: u64 = 16 << 20;

/// What a volume is stored as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeKind {
    /// An ISO 9660 image file.
    Iso,
    /// An ISO 9660 file system on a block device (a USB stick, a DVD drive).
    Device,
    /// A plain directory.
    Dir,
}

#[derive(Clone)]
enum Medium {
    Image(Image),
    Dir,
}

/// One volume of a backup, with its manifest read.
#[derive(Clone)]
pub struct Volume {
    path: PathBuf,
    kind: VolumeKind,
    medium: Medium,
    manifest: Manifest,
}

impl fmt::Debug for Volume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Volume")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("backup_id", &self.manifest.backup_id)
            .field("volume", &self.manifest.volume)
            .finish_non_exhaustive()
    }
}

/// A path of a volume's file as the manifest gives it ("sets/set-00001.tar.zst" or
/// "/rescue/manifest.json"), checked: relative components only, no "." or "..".
fn clean(rel: &str) -> io::Result<&str> {
    let trimmed = rel.trim_start_matches('/');
    if trimmed.is_empty()
        || trimmed
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{rel:?} is not a plain path of a file on a volume"),
        ));
    }
    Ok(trimmed)
}

impl Volume {
    /// Opens the volume at `path`: an ISO image, a block device holding one, or a
    /// directory with `rescue/manifest.json`; reads and parses its manifest.
    pub fn open(path: &Path) -> Result<Volume, VolumeError> {
        let io_err = |source| VolumeError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = fs::metadata(path).map_err(io_err)?;
        let (kind, medium) = if meta.is_dir() {
            (VolumeKind::Dir, Medium::Dir)
        } else {
            let kind = if meta.file_type().is_block_device() {
                VolumeKind::Device
            } else {
                VolumeKind::Iso
            };
            let file = File::open(path).map_err(io_err)?;
            match Image::open(file).map_err(io_err)? {
                Some(image) => (kind, Medium::Image(image)),
                None => {
                    return Err(VolumeError::NotAVolume {
                        path: path.to_path_buf(),
                        reason: "no ISO 9660 file system".into(),
                    })
                }
            }
        };
        let mut volume = Volume {
            path: path.to_path_buf(),
            kind,
            medium,
            manifest: placeholder_manifest(),
        };
        let text = match volume.read_small(MANIFEST_PATH, MAX_MANIFEST) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(VolumeError::NotAVolume {
                    path: path.to_path_buf(),
                    reason: format!("it has no {MANIFEST_PATH}"),
                })
            }
            Err(source) => {
                return Err(VolumeError::Manifest {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        volume.manifest =
            serde_json::from_slice(&text).map_err(|source| VolumeError::BadManifest {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(volume)
    }

    /// Where the volume is: the image, device or directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn kind(&self) -> VolumeKind {
        self.kind
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The ISO volume id, for an image or device.
    pub fn iso_label(&self) -> Option<&str> {
        match &self.medium {
            Medium::Image(image) => Some(image.volume_id()),
            Medium::Dir => None,
        }
    }

    /// The short name of the volume for messages: the file or directory name
    /// ("rescue-2.iso", "rescue-2"), or the whole path for a device.
    pub fn name(&self) -> String {
        match (self.kind, self.path.file_name()) {
            (VolumeKind::Device, _) | (_, None) => self.path.display().to_string(),
            (_, Some(name)) => name.to_string_lossy().into_owned(),
        }
    }

    /// A file of the volume, named as the manifest names it ("sets/set-00001.tar.zst",
    /// "/rescue/catalog.zst"), as a stream. A file the volume does not have is an error of
    /// kind `NotFound`.
    pub fn open_file(&self, rel: &str) -> io::Result<Box<dyn Read + Send>> {
        let rel = clean(rel)?;
        match &self.medium {
            Medium::Image(image) => Ok(Box::new(image.open_file(rel)?)),
            Medium::Dir => {
                let path = self.path.join(rel);
                let file = File::open(&path)?;
                if file.metadata()?.is_dir() {
                    return Err(io::Error::new(
                        io::ErrorKind::IsADirectory,
                        format!("{} is a directory", path.display()),
                    ));
                }
                Ok(Box::new(file))
            }
        }
    }

    /// The size of a file of the volume; `NotFound` when it has no such file.
    pub fn file_len(&self, rel: &str) -> io::Result<u64> {
        let rel = clean(rel)?;
        match &self.medium {
            Medium::Image(image) => match image.lookup(rel)? {
                Some(e) if !e.is_dir => Ok(e.size),
                _ => Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("/{rel}: no such file on the image"),
                )),
            },
            Medium::Dir => {
                let meta = fs::metadata(self.path.join(rel))?;
                if meta.is_dir() {
                    return Err(io::Error::new(
                        io::ErrorKind::IsADirectory,
                        format!("/{rel} is a directory"),
                    ));
                }
                Ok(meta.len())
            }
        }
    }

    /// A whole file of the volume, refused when larger than `limit` bytes.
    pub fn read_small(&self, rel: &str, limit: u64) -> io::Result<Vec<u8>> {
        let len = self.file_len(rel)?;
        if len > limit {
            return Err(io::Error::other(format!(
                "/{} holds {len} bytes, more than the {limit} expected",
                rel.trim_start_matches('/')
            )));
        }
        let mut buf = Vec::with_capacity(len as usize);
        self.open_file(rel)?.take(limit + 1).read_to_end(&mut buf)?;
        Ok(buf)
    }

    /// The mountlist the volume carries (volume 1 does).
    pub fn read_mountlist(&self) -> Result<Mountlist, VolumeError> {
        let io_error = |source| VolumeError::Mountlist {
            path: self.path.clone(),
            source,
        };
        let bytes = self
            .read_small(MOUNTLIST_PATH, MAX_MOUNTLIST)
            .map_err(io_error)?;
        let text = String::from_utf8(bytes)
            .map_err(|e| io_error(io::Error::new(io::ErrorKind::InvalidData, e)))?;
        mountlist::from_json(&text).map_err(|source| VolumeError::BadMountlist {
            path: self.path.clone(),
            source,
        })
    }

    /// The file for messages: "/out/rescue-2/sets/set-00003.tar.zst", or
    /// "/out/rescue-2.iso:/sets/set-00003.tar.zst" inside an image.
    pub fn display_file(&self, rel: &str) -> String {
        let rel = rel.trim_start_matches('/');
        match self.medium {
            Medium::Image(_) => format!("{}:/{rel}", self.path.display()),
            Medium::Dir => self.path.join(rel).display().to_string(),
        }
    }
}

/// Stands in until the real manifest is read (never seen outside [`Volume::open`]).
fn placeholder_manifest() -> Manifest {
    Manifest {
        version: 0,
        backup_id: String::new(),
        label: String::new(),
        volume: 0,
        volumes: 0,
        created: 0,
        tool_version: String::new(),
        hostname: String::new(),
        kernel_release: String::new(),
        sets: Vec::new(),
        compression: Default::default(),
    }
}

/// What [`scan_volumes`] found.
#[derive(Debug)]
pub struct Scan {
    /// The volumes, by volume number (then path).
    pub volumes: Vec<Volume>,
    /// Candidates that looked like volumes (`rescue-N.iso`, `rescue-N/`, an image labelled
    /// `RESCUE_*`) but could not be read.
    pub unreadable: Vec<VolumeError>,
    /// Where the volumes were looked for: the directory searched, or the one path given.
    pub looked_in: PathBuf,
    /// Whether `looked_in` was searched for several volumes (a directory of volumes),
    /// rather than being one volume itself.
    pub searched: bool,
}

/// `rescue-N.iso` -> N, `rescue-N` -> N.
fn volume_number_in_name(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("rescue-")?;
    let digits = rest.strip_suffix(".iso").unwrap_or(rest);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Finds the volumes at `path`: `path` itself when it is one (an image, a device, a
/// directory with `rescue/manifest.json`), else the volumes in it: `rescue-N.iso` and
/// `rescue-N/` by name, and any other `*.iso` whose label starts with `RESCUE_`. Candidates
/// that cannot be read are returned in [`Scan::unreadable`]; it is an error when `path`
/// cannot be read or holds no volume and no candidate at all.
pub fn scan_volumes(path: &Path) -> Result<Scan, VolumeError> {
    let meta = fs::metadata(path).map_err(|source| VolumeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let one = |volume: Result<Volume, VolumeError>| {
        let (volumes, unreadable) = match volume {
            Ok(v) => (vec![v], Vec::new()),
            Err(e) => (Vec::new(), vec![e]),
        };
        Scan {
            volumes,
            unreadable,
            looked_in: path.to_path_buf(),
            searched: false,
        }
    };
    if !meta.is_dir() {
        return Ok(one(Volume::open(path)));
    }
    if path.join(MANIFEST_PATH.trim_start_matches('/')).exists() {
        return Ok(one(Volume::open(path)));
    }
    let listing = fs::read_dir(path).map_err(|source| VolumeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut candidates: Vec<PathBuf> = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|source| VolumeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') {
            continue; // a volume being written (".rescue-2.iso.partial"), or not ours
        }
        let file = entry.path();
        if volume_number_in_name(name).is_some() {
            candidates.push(file);
        } else if name.ends_with(".iso") && file.is_file() {
            // Another name: ours only if the label says so.
            let label = File::open(&file).and_then(|f| iso9660::read_volume_id(&f));
            if let Ok(Some(label)) = label {
                if label.starts_with(LABEL_PREFIX) {
                    candidates.push(file);
                }
            }
        }
    }
    candidates.sort_by_key(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        (volume_number_in_name(name).unwrap_or(u32::MAX), p.clone())
    });
    let mut scan = Scan {
        volumes: Vec::new(),
        unreadable: Vec::new(),
        looked_in: path.to_path_buf(),
        searched: true,
    };
    for candidate in candidates {
        match Volume::open(&candidate) {
            Ok(v) => scan.volumes.push(v),
            Err(e) => scan.unreadable.push(e),
        }
    }
    if scan.volumes.is_empty() && scan.unreadable.is_empty() {
        return Err(VolumeError::NoVolumes {
            path: path.to_path_buf(),
        });
    }
    scan.volumes
        .sort_by(|a, b| (a.manifest.volume, &a.path).cmp(&(b.manifest.volume, &b.path)));
    Ok(scan)
}

/// The volumes at `path` (see [`scan_volumes`]), by volume number; the first candidate
/// that cannot be read is an error.
pub fn find_volumes(path: &Path) -> Result<Vec<Volume>, VolumeError> {
    let mut scan = scan_volumes(path)?;
    if !scan.unreadable.is_empty() {
        return Err(scan.unreadable.remove(0));
    }
    Ok(scan.volumes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{Compression, MANIFEST_VERSION};

    fn manifest(volume: u32, volumes: u32) -> Manifest {
        Manifest {
            version: MANIFEST_VERSION,
            backup_id: "1A2B3C4D".into(),
            label: format!("RESCUE_1A2B3C4D_{volume}"),
            volume,
            volumes,
            created: 1,
            tool_version: "0.1.0".into(),
            hostname: "h".into(),
            kernel_release: "6.1".into(),
            sets: Vec::new(),
            compression: Compression::Zstd,
        }
    }

    fn make_dir_volume(dir: &Path, m: &Manifest) {
        fs::create_dir_all(dir.join("rescue")).unwrap();
        fs::create_dir_all(dir.join("sets")).unwrap();
        fs::write(
            dir.join("rescue/manifest.json"),
            serde_json::to_vec_pretty(m).unwrap(),
        )
        .unwrap();
        fs::write(dir.join("sets/set-00001.tar.zst"), b"data").unwrap();
    }

    #[test]
    fn a_mountlist_missing_not_utf8_or_invalid_is_an_error_naming_the_volume() {
        let d = tempfile::tempdir().unwrap();
        make_dir_volume(d.path(), &manifest(1, 1));
        let v = Volume::open(d.path()).unwrap();
        let e = v.read_mountlist().unwrap_err();
        assert!(matches!(e, VolumeError::Mountlist { .. }), "{e}");
        assert!(
            e.to_string().ends_with(": reading /rescue/mountlist.json"),
            "{e}"
        );
        fs::write(d.path().join("rescue/mountlist.json"), b"\xff{").unwrap();
        let e = v.read_mountlist().unwrap_err();
        assert!(matches!(e, VolumeError::Mountlist { .. }), "{e}");
        fs::write(d.path().join("rescue/mountlist.json"), b"{}").unwrap();
        let e = v.read_mountlist().unwrap_err();
        assert!(e.to_string().ends_with("is not a valid mountlist"), "{e}");
    }

    #[test]
    fn names_give_volume_numbers() {
        assert_eq!(volume_number_in_name("rescue-1.iso"), Some(1));
        assert_eq!(volume_number_in_name("rescue-12"), Some(12));
        assert_eq!(volume_number_in_name("rescue-.iso"), None);
        assert_eq!(volume_number_in_name("rescue-1a"), None);
        assert_eq!(volume_number_in_name("other-1.iso"), None);
    }

    #[test]
    fn a_directory_of_volume_directories_is_found_in_order() {
        let d = tempfile::tempdir().unwrap();
        for n in [3, 1, 2] {
            make_dir_volume(&d.path().join(format!("rescue-{n}")), &manifest(n, 0));
        }
        // A volume being written, and an unrelated file, are left alone.
        fs::create_dir(d.path().join(".rescue-4.partial")).unwrap();
        fs::write(d.path().join("notes.txt"), b"x").unwrap();
        let volumes = find_volumes(d.path()).unwrap();
        let numbers: Vec<u32> = volumes.iter().map(|v| v.manifest().volume).collect();
        assert_eq!(numbers, [1, 2, 3]);
        let v = &volumes[0];
        assert_eq!(v.kind(), VolumeKind::Dir);
        assert_eq!(v.name(), "rescue-1");
        assert_eq!(v.iso_label(), None);
        let mut data = String::new();
        v.open_file("sets/set-00001.tar.zst")
            .unwrap()
            .read_to_string(&mut data)
            .unwrap();
        assert_eq!(data, "data");
        assert_eq!(v.file_len("/sets/set-00001.tar.zst").unwrap(), 4);
        let e = v.open_file("sets/set-00002.tar.zst").err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(v.open_file("sets").is_err(), "a directory is no file");
        assert!(v.open_file("../rescue-2/sets/set-00001.tar.zst").is_err());
        assert!(v.open_file("sets/./x").is_err());
        assert!(v
            .display_file("sets/set-00001.tar.zst")
            .ends_with("rescue-1/sets/set-00001.tar.zst"));

        // One volume directory given directly.
        let one = find_volumes(&d.path().join("rescue-2")).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].manifest().volume, 2);
    }

    #[test]
    fn unreadable_candidates_are_reported_not_dropped() {
        let d = tempfile::tempdir().unwrap();
        make_dir_volume(&d.path().join("rescue-1"), &manifest(1, 2));
        fs::create_dir_all(d.path().join("rescue-2/rescue")).unwrap();
        fs::write(d.path().join("rescue-2/rescue/manifest.json"), b"{not json").unwrap();
        fs::write(d.path().join("rescue-3.iso"), vec![0u8; 40_000]).unwrap();
        let scan = scan_volumes(d.path()).unwrap();
        assert_eq!(scan.volumes.len(), 1);
        assert!(scan.searched);
        let errors: Vec<String> = scan.unreadable.iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("not a valid manifest"), "{errors:?}");
        assert!(errors[1].contains("no ISO 9660"), "{errors:?}");
        assert!(find_volumes(d.path()).is_err());
    }

    #[test]
    fn nothing_there_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let e = find_volumes(d.path()).unwrap_err();
        assert!(matches!(e, VolumeError::NoVolumes { .. }), "{e}");
        let e = find_volumes(&d.path().join("missing")).unwrap_err();
        assert!(matches!(e, VolumeError::Io { .. }), "{e}");
        let file = d.path().join("plain");
        fs::write(&file, b"hello").unwrap();
        let e = find_volumes(&file).unwrap_err();
        assert!(e.to_string().contains("no ISO 9660"), "{e}");
    }
}
