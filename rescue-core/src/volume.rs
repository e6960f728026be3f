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
use crate::media::{
    Coverage, CoveredFile, Manifest, ManifestError, LABEL_PREFIX, MANIFEST_PATH,
    MAX_MANIFEST_BYTES, MOUNTLIST_PATH, SIGNATURE_PATH,
};
use crate::mountlist::{self, LoadError, Mountlist};
use crate::regular_file;
use crate::signature::{Trust, TrustedKey, SIGNATURE_LEN};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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
    /// A manifest that does not parse or is not as mkrescue writes it; the source names
    /// the field and what is wrong.
    #[error("{}: {MANIFEST_PATH} is not a valid manifest", .path.display())]
    BadManifest {
        path: PathBuf,
        #[source]
        source: ManifestError,
    },
    /// Only signed media are accepted (`--trusted-key`), and this volume's manifest
    /// carries no signature by the trusted key.
    #[error("{}: refused: {why}", .path.display())]
    Untrusted { path: PathBuf, why: String },
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
pub const MAX_MOUNTLIST: u64 = 16 << 20;

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

/// Whether a volume's signature was checked when it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureCheck {
    /// Opened with [`Trust::SignedBy`]: the manifest's signature verified with the key.
    Verified,
    /// Opened accepting any media: signatures were not looked at.
    NotChecked,
}

/// One volume of a backup, with its manifest read.
#[derive(Clone)]
pub struct Volume {
    path: PathBuf,
    kind: VolumeKind,
    medium: Medium,
    manifest: Manifest,
    signature: SignatureCheck,
    /// The covered files whose BLAKE3 was found as the manifest records it (shared by
    /// clones: each is read through once).
    verified: Arc<Mutex<Vec<CoveredFile>>>,
}

impl fmt::Debug for Volume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Volume")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("backup_id", &self.manifest.backup_id)
            .field("volume", &self.manifest.volume)
            .field("signature", &self.signature)
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

/// What the volume at `path` is: a directory, an ISO image file or a device holding one;
/// anything else (a FIFO, a character device) is refused without opening it.
fn medium_at(path: &Path) -> Result<(VolumeKind, Medium, Option<u64>), VolumeError> {
    let io_err = |source| VolumeError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = fs::metadata(path).map_err(io_err)?;
    let kind = match meta.file_type() {
        t if t.is_dir() => return Ok((VolumeKind::Dir, Medium::Dir, None)),
        t if t.is_block_device() => VolumeKind::Device,
        t if t.is_file() => VolumeKind::Iso,
        _ => {
            return Err(VolumeError::NotAVolume {
                path: path.to_path_buf(),
                reason: "neither a directory, an image file nor a block device".into(),
            })
        }
    };
    let mut file = File::open(path).map_err(io_err)?;
    let size = file.seek(SeekFrom::End(0)).map_err(io_err)?;
    match Image::open(file).map_err(io_err)? {
        Some(image) => Ok((kind, Medium::Image(image), Some(size))),
        None => Err(VolumeError::NotAVolume {
            path: path.to_path_buf(),
            reason: "no ISO 9660 file system".into(),
        }),
    }
}

impl Volume {
    /// Opens the volume at `path`, accepting any media ([`Volume::open_with`]).
    pub fn open(path: &Path) -> Result<Volume, VolumeError> {
        Volume::open_with(path, &Trust::AnyMedia)
    }

    /// Opens the volume at `path`: an ISO image, a block device holding one, or a
    /// directory with `rescue/manifest.json`. With [`Trust::SignedBy`] the manifest's
    /// signature must verify with the key before anything of the manifest is read; then
    /// the manifest is parsed and checked ([`Manifest::check`]), and its sets must fit
    /// the image or device.
    pub fn open_with(path: &Path, trust: &Trust) -> Result<Volume, VolumeError> {
        let (kind, medium, capacity) = medium_at(path)?;
        let mut volume = Volume {
            path: path.to_path_buf(),
            kind,
            medium,
            manifest: placeholder_manifest(),
            signature: SignatureCheck::NotChecked,
            verified: Arc::default(),
        };
        let bytes = match volume.read_raw(MANIFEST_PATH, MAX_MANIFEST_BYTES) {
            Ok(bytes) => bytes,
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
        match trust {
            Trust::AnyMedia => {}
            Trust::SignedBy(key) => {
                volume.check_signature(key, &bytes)?;
                volume.signature = SignatureCheck::Verified;
            }
            Trust::Unusable(why) => {
                return Err(VolumeError::Untrusted {
                    path: path.to_path_buf(),
                    why: format!("the trusted key cannot be used ({why})"),
                })
            }
        }
        let bad = |source| VolumeError::BadManifest {
            path: path.to_path_buf(),
            source,
        };
        let manifest = Manifest::parse(&bytes).map_err(bad)?;
        if let Some(capacity) = capacity {
            let bytes = manifest.set_bytes();
            if bytes > capacity {
                return Err(bad(ManifestError {
                    field: "sets".into(),
                    problem: format!(
                        "the set files come to {bytes} bytes, more than the {capacity} of \
                         the whole {}",
                        if kind == VolumeKind::Device {
                            "device"
                        } else {
                            "image"
                        }
                    ),
                }));
            }
        }
        volume.manifest = manifest;
        Ok(volume)
    }

    /// Checks `rescue/manifest.sig` over the manifest's exact bytes.
    fn check_signature(&self, key: &TrustedKey, manifest: &[u8]) -> Result<(), VolumeError> {
        let untrusted = |why: String| VolumeError::Untrusted {
            path: self.path.clone(),
            why,
        };
        let signature = match self.read_raw(SIGNATURE_PATH, SIGNATURE_LEN as u64) {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(untrusted(format!(
                    "its manifest is not signed (no {SIGNATURE_PATH}), and only media signed \
                     by the trusted key are accepted"
                )))
            }
            Err(e) => return Err(untrusted(format!("{SIGNATURE_PATH}: {e}"))),
        };
        key.verify(manifest, &signature)
            .map_err(|e| untrusted(format!("{SIGNATURE_PATH}: {e}")))
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

    /// Whether the manifest's signature was verified when the volume was opened.
    pub fn signature(&self) -> SignatureCheck {
        self.signature
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
    /// kind `NotFound`. A directory volume's file must be a regular file below it (a
    /// FIFO, a device node or a symlink is refused unopened). A file the manifest covers
    /// (the mountlist, the catalog) is read through once and must have the BLAKE3 the
    /// manifest records before it is handed out (an error of kind `InvalidData`).
    pub fn open_file(&self, rel: &str) -> io::Result<Box<dyn Read + Send>> {
        let rel = clean(rel)?;
        if let Some(covered) = CoveredFile::at(rel) {
            self.check_covered(covered)?;
        }
        self.open_raw(rel)
    }

    fn open_raw(&self, rel: &str) -> io::Result<Box<dyn Read + Send>> {
        let rel = clean(rel)?;
        match &self.medium {
            Medium::Image(image) => Ok(Box::new(image.open_file(rel)?)),
            Medium::Dir => Ok(Box::new(regular_file::open_regular(&self.path, rel)?)),
        }
    }

    /// The BLAKE3 the manifest records for `file`, if it records one; `NotFound` when a
    /// manifest of version 2 or later lists no such file.
    fn recorded_b3(&self, file: CoveredFile) -> io::Result<Option<&str>> {
        match self.manifest.coverage(file) {
            Coverage::Recorded(b3) => Ok(Some(b3)),
            Coverage::NotCovered => Ok(None),
            Coverage::Absent => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{}: the manifest of volume {} lists no such file",
                    self.display_file(file.path()),
                    self.manifest.volume
                ),
            )),
        }
    }

    /// Reads a covered file through once and compares its BLAKE3 with the manifest's.
    fn check_covered(&self, file: CoveredFile) -> io::Result<()> {
        let Some(want) = self.recorded_b3(file)? else {
            return Ok(());
        };
        if self.already_verified(file) {
            return Ok(());
        }
        let mut hasher = blake3::Hasher::new();
        io::copy(&mut self.open_raw(file.path())?, &mut hasher)?;
        self.compare_b3(file, hasher.finalize(), want)?;
        if let Ok(mut verified) = self.verified.lock() {
            verified.push(file);
        }
        Ok(())
    }

    fn already_verified(&self, file: CoveredFile) -> bool {
        self.verified
            .lock()
            .map(|v| v.contains(&file))
            .unwrap_or(false)
    }

    fn compare_b3(&self, file: CoveredFile, got: blake3::Hash, want: &str) -> io::Result<()> {
        let got = crate::catalog::to_hex(got.as_bytes());
        if got == want {
            return Ok(());
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{}: its BLAKE3 is {got}, but the manifest records {want}: the file was \
                 changed or damaged since the backup",
                self.display_file(file.path())
            ),
        ))
    }

    /// A plain sentence when the manifest is too old to cover `file` with a BLAKE3 (made
    /// by mkrescue before manifest version 2): the file is used unchecked.
    pub fn uncovered_note(&self, file: CoveredFile) -> Option<String> {
        (self.manifest.coverage(file) == Coverage::NotCovered).then(|| {
            format!(
                "{}: not covered by the manifest (version {}, written by an older mkrescue, \
                 records no BLAKE3 of it): used unchecked",
                self.display_file(file.path()),
                self.manifest.version
            )
        })
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
            Medium::Dir => regular_file::regular_len(&self.path, rel),
        }
    }

    /// A whole file of the volume, refused when larger than `limit` bytes; a covered file
    /// must have the BLAKE3 its manifest records.
    pub fn read_small(&self, rel: &str, limit: u64) -> io::Result<Vec<u8>> {
        let covered = CoveredFile::at(rel);
        let want = match covered {
            Some(file) => self.recorded_b3(file)?,
            None => None,
        };
        let bytes = self.read_raw(rel, limit)?;
        if let (Some(file), Some(want)) = (covered, want) {
            self.compare_b3(file, blake3::hash(&bytes), want)?;
        }
        Ok(bytes)
    }

    /// A whole file, bounded, unchecked.
    fn read_raw(&self, rel: &str, limit: u64) -> io::Result<Vec<u8>> {
        let len = self.file_len(rel)?;
        if len > limit {
            return Err(io::Error::other(format!(
                "/{} holds {len} bytes, more than the {limit} expected",
                rel.trim_start_matches('/')
            )));
        }
        let mut buf = Vec::with_capacity(len as usize);
        self.open_raw(rel)?.take(limit + 1).read_to_end(&mut buf)?;
        if buf.len() as u64 > limit {
            return Err(io::Error::other(format!(
                "/{} grew past the {limit} bytes expected while it was read",
                rel.trim_start_matches('/')
            )));
        }
        Ok(buf)
    }

    /// The mountlist the volume carries (volume 1 does), checked against the BLAKE3 its
    /// manifest records.
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
        mountlist_b3: None,
        catalog_b3: None,
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

/// Finds the volumes at `path`, accepting any media: `path` itself when it is one (an image, a device, a
/// directory with `rescue/manifest.json`), else the volumes in it: `rescue-N.iso` and
/// `rescue-N/` by name, and any other `*.iso` whose label starts with `RESCUE_`. Candidates
/// that cannot be read are returned in [`Scan::unreadable`]; it is an error when `path`
/// cannot be read or holds no volume and no candidate at all.
pub fn scan_volumes(path: &Path) -> Result<Scan, VolumeError> {
    scan_volumes_with(path, &Trust::AnyMedia)
}

/// [`scan_volumes`], opening each volume with [`Volume::open_with`] and `trust`: with
/// [`Trust::SignedBy`], a volume not signed by the key is among [`Scan::unreadable`].
pub fn scan_volumes_with(path: &Path, trust: &Trust) -> Result<Scan, VolumeError> {
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
        return Ok(one(Volume::open_with(path, trust)));
    }
    if path.join(MANIFEST_PATH.trim_start_matches('/')).exists() {
        return Ok(one(Volume::open_with(path, trust)));
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
        match Volume::open_with(&candidate, trust) {
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
    use crate::signature::SigningKey;
    use std::time::{Duration, Instant};

    /// A manifest as an older mkrescue wrote it (version 1: no hashes of volume 1's
    /// mountlist and catalog).
    fn manifest(volume: u32, volumes: u32) -> Manifest {
        Manifest {
            version: 1,
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
            mountlist_b3: None,
            catalog_b3: None,
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
        make_dir_volume(&d.path().join("rescue-1"), &manifest(1, 0));
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

    const MOUNTLIST: &str = r#"{"version": 1, "host": {"hostname": "h", "root": "/",
        "kernel_release": "6.1", "captured_at": 1}, "boot": {"mode": "bios"}, "disks": []}"#;

    /// Volume 1 as this build writes it: manifest version 2 covering the mountlist and
    /// a catalog.
    fn current_volume(dir: &Path) -> Manifest {
        let m = Manifest {
            version: MANIFEST_VERSION,
            mountlist_b3: Some(blake3::hash(MOUNTLIST.as_bytes()).to_hex().to_string()),
            catalog_b3: Some(blake3::hash(b"catalog").to_hex().to_string()),
            ..manifest(1, 1)
        };
        make_dir_volume(dir, &m);
        fs::write(dir.join("rescue/mountlist.json"), MOUNTLIST).unwrap();
        fs::write(dir.join("rescue/catalog.zst"), b"catalog").unwrap();
        m
    }

    fn read_all(v: &Volume, rel: &str) -> io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        v.open_file(rel)?.read_to_end(&mut buf)?;
        Ok(buf)
    }

    #[test]
    fn the_mountlist_and_catalog_must_have_the_hashes_the_manifest_records() {
        let d = tempfile::tempdir().unwrap();
        current_volume(d.path());
        let v = Volume::open(d.path()).unwrap();
        v.read_mountlist().unwrap();
        assert_eq!(read_all(&v, "/rescue/catalog.zst").unwrap(), b"catalog");
        assert_eq!(v.uncovered_note(CoveredFile::Catalog), None);

        fs::write(
            d.path().join("rescue/mountlist.json"),
            MOUNTLIST.replace("\"h\"", "\"x\""),
        )
        .unwrap();
        let e = crate::error_text::chain(&v.read_mountlist().unwrap_err());
        assert!(
            e.contains("rescue/mountlist.json: its BLAKE3 is") && e.contains("changed or damaged"),
            "{e}"
        );
        // A fresh look at a changed catalog (the volume read it sound before).
        fs::write(d.path().join("rescue/catalog.zst"), b"catalog!").unwrap();
        let v = Volume::open(d.path()).unwrap();
        let e = read_all(&v, "rescue/catalog.zst").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(
            e.to_string().contains("rescue/catalog.zst: its BLAKE3 is"),
            "{e}"
        );
    }

    #[test]
    fn an_older_manifest_leaves_them_not_covered_and_says_so() {
        let d = tempfile::tempdir().unwrap();
        make_dir_volume(d.path(), &manifest(1, 1));
        fs::write(d.path().join("rescue/mountlist.json"), MOUNTLIST).unwrap();
        let v = Volume::open(d.path()).unwrap();
        v.read_mountlist().unwrap();
        let note = v.uncovered_note(CoveredFile::Mountlist).unwrap();
        assert!(
            note.ends_with(
                "rescue/mountlist.json: not covered by the manifest (version 1, \
                 written by an older mkrescue, records no BLAKE3 of it): used unchecked"
            ),
            "{note}"
        );
        // Version 2 media without a catalog (boot media): there is none to open.
        let d = tempfile::tempdir().unwrap();
        let m = Manifest {
            version: MANIFEST_VERSION,
            mountlist_b3: Some(blake3::hash(b"{}").to_hex().to_string()),
            ..manifest(1, 1)
        };
        make_dir_volume(d.path(), &m);
        fs::write(d.path().join("rescue/catalog.zst"), b"planted").unwrap();
        let v = Volume::open(d.path()).unwrap();
        let e = read_all(&v, "rescue/catalog.zst").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains("lists no such file"), "{e}");
    }

    #[test]
    fn a_refused_manifest_names_the_volume_the_field_and_the_problem() {
        let d = tempfile::tempdir().unwrap();
        let vol = d.path().join("rescue-2");
        make_dir_volume(&vol, &manifest(2, 0));
        let text = fs::read_to_string(vol.join("rescue/manifest.json")).unwrap();
        let planted = text.replace(
            "\"sets\": []",
            &format!(
                "\"sets\": [{{\"number\": 1, \"file\": \"../../etc/shadow\", \"bytes\": 1, \
                 \"tar_bytes\": 1024, \"entries\": 1, \"b3\": \"{0}\", \"hashes\": \
                 \"sets/set-00001.hashes.zst\", \"hashes_b3\": \"{0}\"}}]",
                "a".repeat(64)
            ),
        );
        assert_ne!(planted, text);
        fs::write(vol.join("rescue/manifest.json"), planted).unwrap();
        let e = crate::error_text::chain(&Volume::open(&vol).unwrap_err());
        assert!(
            e.contains("rescue-2: /rescue/manifest.json is not a valid manifest")
                && e.contains(
                    "sets[0].file: \"../../etc/shadow\", expected \"sets/set-00001.tar.zst\""
                ),
            "{e}"
        );
    }

    fn make_fifo(path: &Path) {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
    }

    #[test]
    fn a_fifo_as_a_set_file_is_refused_at_once() {
        let d = tempfile::tempdir().unwrap();
        make_dir_volume(d.path(), &manifest(1, 1));
        let set = d.path().join("sets/set-00001.tar.zst");
        fs::remove_file(&set).unwrap();
        make_fifo(&set);
        let v = Volume::open(d.path()).unwrap();
        let started = Instant::now();
        let e = v.open_file("sets/set-00001.tar.zst").err().unwrap();
        assert!(
            e.to_string().contains("is a FIFO, not a regular file"),
            "{e}"
        );
        assert!(v.file_len("sets/set-00001.tar.zst").is_err());
        assert!(started.elapsed() < Duration::from_secs(5));
        // A FIFO named as a volume image is no volume, and is not opened either.
        let fifo = d.path().join("rescue-3.iso");
        make_fifo(&fifo);
        let e = Volume::open(&fifo).unwrap_err();
        assert!(matches!(e, VolumeError::NotAVolume { .. }), "{e}");
    }

    const PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n\
        -----END PRIVATE KEY-----\n";

    fn signing_key(dir: &Path) -> SigningKey {
        let path = dir.join("key.pem");
        fs::write(&path, PRIVATE_PEM).unwrap();
        SigningKey::read(&path).unwrap()
    }

    #[test]
    fn with_a_trusted_key_only_volumes_it_signed_open() {
        let d = tempfile::tempdir().unwrap();
        let key = signing_key(d.path());
        let trust = Trust::SignedBy(key.trusted_key());
        let vol = d.path().join("rescue-1");
        make_dir_volume(&vol, &manifest(1, 1));
        let manifest_path = vol.join("rescue/manifest.json");
        let bytes = fs::read(&manifest_path).unwrap();

        // Not signed: refused with the key, read as before without.
        let e = Volume::open_with(&vol, &trust).unwrap_err().to_string();
        assert!(
            e.ends_with(
                "rescue-1: refused: its manifest is not signed (no \
                 /rescue/manifest.sig), and only media signed by the trusted key are accepted"
            ),
            "{e}"
        );
        assert_eq!(
            Volume::open(&vol).unwrap().signature(),
            SignatureCheck::NotChecked
        );

        fs::write(vol.join("rescue/manifest.sig"), key.sign(&bytes)).unwrap();
        let v = Volume::open_with(&vol, &trust).unwrap();
        assert_eq!(v.signature(), SignatureCheck::Verified);
        let scan = scan_volumes_with(d.path(), &trust).unwrap();
        assert_eq!(scan.volumes.len(), 1);

        // One byte changed in the manifest (still a valid manifest).
        let changed = String::from_utf8(bytes.clone())
            .unwrap()
            .replace("\"h\"", "\"x\"");
        fs::write(&manifest_path, changed).unwrap();
        Volume::open(&vol).unwrap();
        let e = Volume::open_with(&vol, &trust).unwrap_err().to_string();
        assert!(
            e.contains("rescue-1: refused: /rescue/manifest.sig: the signature does not verify"),
            "{e}"
        );
        let scan = scan_volumes_with(d.path(), &trust).unwrap();
        assert!(scan.volumes.is_empty());
        assert_eq!(scan.unreadable.len(), 1);

        // Another key's signature; a signature cut short.
        fs::write(&manifest_path, &bytes).unwrap();
        let other = crate::signature::TrustedKey::read(&{
            let p = d.path().join("other.pub.pem");
            fs::write(
                &p,
                "-----BEGIN PUBLIC KEY-----\n\
                 MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n\
                 -----END PUBLIC KEY-----\n",
            )
            .unwrap();
            p
        })
        .unwrap();
        let e = Volume::open_with(&vol, &Trust::SignedBy(other)).unwrap_err();
        assert!(e.to_string().contains("does not verify"), "{e}");
        fs::write(vol.join("rescue/manifest.sig"), &key.sign(&bytes)[..10]).unwrap();
        let e = Volume::open_with(&vol, &trust).unwrap_err();
        assert!(e.to_string().contains("10 bytes, not the 64"), "{e}");
        let e = Volume::open_with(&vol, &Trust::Unusable("no such file".into())).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("refused: the trusted key cannot be used (no such file)"),
            "{e}"
        );
    }
}
