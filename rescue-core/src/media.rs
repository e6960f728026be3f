//! What rescue media carry besides the mountlist: the manifest on every volume, and the
//! record of which restore tools the rescue system holds.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The manifest format version this build writes. Version 2 added the BLAKE3 of the
/// mountlist and the catalog on volume 1; version 1 manifests still read.
pub const MANIFEST_VERSION: u32 = 2;
/// The oldest manifest version this build reads.
pub const MANIFEST_VERSION_MIN: u32 = 1;

/// Where files live on a volume.
pub const MANIFEST_PATH: &str = "/rescue/manifest.json";
/// The ed25519 signature of the manifest's exact bytes, on signed media (see `signature`).
pub const SIGNATURE_PATH: &str = "/rescue/manifest.sig";
pub const MOUNTLIST_PATH: &str = "/rescue/mountlist.json";
/// Volume 1: every file of the backup, where its data lives (see `catalog`).
pub const CATALOG_PATH: &str = "/rescue/catalog.zst";
/// The folder of the archive sets and their hash lists, on every volume.
pub const SETS_DIR: &str = "sets";
/// Where the initramfs keeps its own copies.
pub const INITRAMFS_MOUNTLIST: &str = "/etc/rescue/mountlist.json";
pub const INITRAMFS_TOOLS: &str = "/etc/rescue/tools.json";
/// The public key of signed media (`mkrescue create --sign`), for
/// `rescue.trusted-key=/etc/rescue/trusted-key.pem`.
pub const INITRAMFS_TRUSTED_KEY: &str = "/etc/rescue/trusted-key.pem";

/// Volume labels start with this, then the backup id: "RESCUE_1A2B3C4D".
pub const LABEL_PREFIX: &str = "RESCUE_";

/// `/rescue/manifest.json` on every volume (docs/archive.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub version: u32,
    /// Identifies one run of mkrescue; every volume of it carries the same id.
    pub backup_id: String,
    /// The ISO volume id: LABEL_PREFIX + backup_id.
    pub label: String,
    /// This volume's number, from 1.
    pub volume: u32,
    /// How many volumes the backup has; 0 on the volumes written before the last one,
    /// when that is not known yet (see [`Manifest::volumes_known`]).
    pub volumes: u32,
    /// Seconds since the epoch.
    pub created: u64,
    pub tool_version: String,
    pub hostname: String,
    pub kernel_release: String,
    /// The archive sets this volume holds, in order (none on boot-only media).
    #[serde(default)]
    pub sets: Vec<SetInfo>,
    /// How every set of the backup is compressed.
    #[serde(default)]
    pub compression: Compression,
    /// Volume 1 (version 2 on): BLAKE3 of `/rescue/mountlist.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mountlist_b3: Option<String>,
    /// Volume 1 of a backup (version 2 on; boot-only media have no catalog): BLAKE3 of
    /// `/rescue/catalog.zst`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_b3: Option<String>,
}

impl Manifest {
    pub fn label_for(backup_id: &str) -> String {
        format!("{LABEL_PREFIX}{backup_id}")
    }

    /// The ISO 9660 label of volume `n` of a backup: RESCUE_<id>_<n>.
    pub fn volume_label(backup_id: &str, n: u32) -> String {
        format!("{}_{n}", Manifest::label_for(backup_id))
    }

    /// The number of volumes, when this volume knows it: volumes written before the last
    /// one say 0, and a restore asks for volumes until it has seen the last.
    pub fn volumes_known(&self) -> Option<u32> {
        (self.volumes != 0).then_some(self.volumes)
    }

    /// Whether this is the last volume of the backup (known only on the last one).
    pub fn is_last_volume(&self) -> bool {
        self.volumes != 0 && self.volume == self.volumes
    }

    /// What this manifest records of a file the volume carries besides its sets.
    pub fn coverage(&self, file: CoveredFile) -> Coverage<'_> {
        if self.version < 2 {
            return Coverage::NotCovered;
        }
        let b3 = match file {
            CoveredFile::Mountlist => &self.mountlist_b3,
            CoveredFile::Catalog => &self.catalog_b3,
        };
        match b3 {
            Some(b3) => Coverage::Recorded(b3),
            None => Coverage::Absent,
        }
    }
}

/// The files of volume 1 besides the sets that its manifest (version 2 on) covers with
/// their BLAKE3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoveredFile {
    Mountlist,
    Catalog,
}

impl CoveredFile {
    pub const ALL: [CoveredFile; 2] = [CoveredFile::Mountlist, CoveredFile::Catalog];

    /// Its path on the volume.
    pub fn path(self) -> &'static str {
        match self {
            CoveredFile::Mountlist => MOUNTLIST_PATH,
            CoveredFile::Catalog => CATALOG_PATH,
        }
    }

    /// The covered file at `rel` ("/rescue/catalog.zst" or "rescue/catalog.zst"), if any.
    pub fn at(rel: &str) -> Option<CoveredFile> {
        let rel = rel.trim_start_matches('/');
        CoveredFile::ALL
            .into_iter()
            .find(|f| f.path().trim_start_matches('/') == rel)
    }
}

/// What a manifest says of a [`CoveredFile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage<'a> {
    /// Its BLAKE3, 64 lower-case hex digits: the file must have it.
    Recorded(&'a str),
    /// The manifest is older than version 2 and records no hash: the file is not covered.
    NotCovered,
    /// A manifest of version 2 or later that records none: the volume has no such file.
    Absent,
}

/// The most bytes a manifest may take; a larger one is refused unread.
pub const MAX_MANIFEST_BYTES: u64 = 16 << 20;
/// One set's entry takes more than 256 bytes in a manifest (two paths and two hashes of
/// fixed form alone do), so no volume lists more sets than this.
pub const MAX_SETS_PER_VOLUME: u32 = (MAX_MANIFEST_BYTES / 256) as u32;
/// The most volumes a backup may have.
pub const MAX_VOLUMES: u32 = 10_000;
/// The most bytes of set files one volume may hold (1 PiB): sums over every volume stay
/// far from overflowing.
pub const MAX_VOLUME_BYTES: u64 = 1 << 50;
/// The longest backup id (mkrescue writes eight hex digits).
pub const MAX_BACKUP_ID_LEN: usize = 16;

/// A manifest that is not as this build writes it: the field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ManifestError {
    /// The field, as a path into the JSON: "version", "sets[3].file".
    pub field: String,
    pub problem: String,
}

fn refuse(field: impl Into<String>, problem: impl Into<String>) -> ManifestError {
    ManifestError {
        field: field.into(),
        problem: problem.into(),
    }
}

/// Whether `text` is a BLAKE3 as manifests hold it: 64 lower-case hex digits.
pub fn is_b3_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn check_b3(field: String, text: &str) -> Result<(), ManifestError> {
    if is_b3_hex(text) {
        Ok(())
    } else {
        Err(refuse(
            field,
            format!("{text:?} is not a BLAKE3 (64 lower-case hex digits)"),
        ))
    }
}

impl Manifest {
    /// Parses and checks a manifest as read from media ([`Manifest::check`]).
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(refuse(
                "(the file)",
                format!(
                    "{} bytes, more than the {MAX_MANIFEST_BYTES} a manifest may take",
                    bytes.len()
                ),
            ));
        }
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let manifest: Manifest = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = match e.path().to_string() {
                p if p == "." || p == "?" => "(the file)".to_string(),
                p => p,
            };
            refuse(field, e.into_inner().to_string())
        })?;
        manifest.check()?;
        Ok(manifest)
    }

    /// Checks everything a reader relies on before it uses the manifest: a version this
    /// build reads, the volume's number, count and label, a backup id of at most
    /// [`MAX_BACKUP_ID_LEN`] letters and digits, the hashes of volume 1's other files, and
    /// the sets: consecutive numbers from at least 1 and within what volumes
    /// 1..=`volume` can list, exactly the file names of [`set_file`] and
    /// [`hash_list_file`] (no other path is ever opened from a manifest), 64-digit
    /// BLAKE3s, and sizes within [`MAX_VOLUME_BYTES`].
    pub fn check(&self) -> Result<(), ManifestError> {
        if !(MANIFEST_VERSION_MIN..=MANIFEST_VERSION).contains(&self.version) {
            return Err(refuse(
                "version",
                format!(
                    "version {} is not one this build reads ({MANIFEST_VERSION_MIN} to \
                     {MANIFEST_VERSION}): use the restore-tui and mkrescue of the release \
                     that wrote it, or a newer one",
                    self.version
                ),
            ));
        }
        let id = &self.backup_id;
        if id.is_empty()
            || id.len() > MAX_BACKUP_ID_LEN
            || !id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(refuse(
                "backup_id",
                format!("{id:?} is not 1 to {MAX_BACKUP_ID_LEN} ASCII letters and digits"),
            ));
        }
        if !(1..=MAX_VOLUMES).contains(&self.volume) {
            return Err(refuse(
                "volume",
                format!(
                    "{} is not a volume number (1 to {MAX_VOLUMES})",
                    self.volume
                ),
            ));
        }
        if self.volumes != 0 && self.volumes != self.volume {
            return Err(refuse(
                "volumes",
                format!(
                    "{} on volume {}: only the last volume knows the count, and it is its \
                     own number (the others say 0)",
                    self.volumes, self.volume
                ),
            ));
        }
        let label = Manifest::volume_label(id, self.volume);
        if self.label != label {
            return Err(refuse(
                "label",
                format!("{:?}, expected {label:?}", self.label),
            ));
        }
        self.check_covered_files()?;
        self.check_sets()
    }

    fn check_covered_files(&self) -> Result<(), ManifestError> {
        let fields = [
            ("mountlist_b3", &self.mountlist_b3),
            ("catalog_b3", &self.catalog_b3),
        ];
        for (field, value) in fields {
            let Some(b3) = value else { continue };
            if self.version < 2 {
                return Err(refuse(field, "a version 1 manifest has no such field"));
            }
            if self.volume != 1 {
                return Err(refuse(
                    field,
                    "only volume 1 carries the mountlist and catalog",
                ));
            }
            check_b3(field.to_string(), b3)?;
        }
        if self.version >= 2 && self.volume == 1 && self.mountlist_b3.is_none() {
            return Err(refuse(
                "mountlist_b3",
                "missing: volume 1 carries the mountlist, and its manifest records its BLAKE3",
            ));
        }
        Ok(())
    }

    fn check_sets(&self) -> Result<(), ManifestError> {
        if self.sets.len() > MAX_SETS_PER_VOLUME as usize {
            return Err(refuse(
                "sets",
                format!(
                    "{} sets, more than the {MAX_SETS_PER_VOLUME} a volume can list",
                    self.sets.len()
                ),
            ));
        }
        // Volumes 1..=n list at most n * MAX_SETS_PER_VOLUME sets between them.
        let ceiling = self.volume.saturating_mul(MAX_SETS_PER_VOLUME);
        let mut volume_bytes = 0u64;
        let mut previous: Option<u32> = None;
        for (i, set) in self.sets.iter().enumerate() {
            let at = |field: &str| format!("sets[{i}].{field}");
            if set.number == 0 || set.number > ceiling {
                return Err(refuse(
                    at("number"),
                    format!(
                        "{} is not a set number volume {} can hold (1 to {ceiling})",
                        set.number, self.volume
                    ),
                ));
            }
            if let Some(p) = previous {
                if p.checked_add(1) != Some(set.number) {
                    return Err(refuse(
                        at("number"),
                        format!(
                            "{} follows set {p}: a volume's sets are consecutive, in order",
                            set.number
                        ),
                    ));
                }
            }
            previous = Some(set.number);
            let file = set_file(set.number, self.compression);
            if set.file != file {
                return Err(refuse(
                    at("file"),
                    format!("{:?}, expected {file:?}", set.file),
                ));
            }
            let hashes = hash_list_file(set.number);
            if set.hashes != hashes {
                return Err(refuse(
                    at("hashes"),
                    format!("{:?}, expected {hashes:?}", set.hashes),
                ));
            }
            check_b3(at("b3"), &set.b3)?;
            check_b3(at("hashes_b3"), &set.hashes_b3)?;
            volume_bytes = volume_bytes.saturating_add(set.bytes);
            if volume_bytes > MAX_VOLUME_BYTES {
                return Err(refuse(
                    at("bytes"),
                    format!(
                        "the sets come to more than the {MAX_VOLUME_BYTES} bytes a volume \
                         may hold"
                    ),
                ));
            }
            if set.tar_bytes > MAX_VOLUME_BYTES {
                return Err(refuse(
                    at("tar_bytes"),
                    format!(
                        "{} is more than a set may hold ({MAX_VOLUME_BYTES})",
                        set.tar_bytes
                    ),
                ));
            }
            // Every tar entry takes at least its 512-byte header.
            if set.entries > set.tar_bytes / 512 {
                return Err(refuse(
                    at("entries"),
                    format!(
                        "{} entries cannot fit in {} bytes of tar stream",
                        set.entries, set.tar_bytes
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The bytes of the set files the manifest lists.
    pub fn set_bytes(&self) -> u64 {
        self.sets
            .iter()
            .fold(0u64, |sum, s| sum.saturating_add(s.bytes))
    }
}

/// One archive set as a volume's manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetInfo {
    /// The set's number, from 1 across the whole backup.
    pub number: u32,
    /// The set file's path on the volume, without a leading slash:
    /// "sets/set-00004.tar.zst" ([`set_file`]).
    pub file: String,
    /// The set file's size (compressed).
    pub bytes: u64,
    /// The size of the tar stream in it (uncompressed).
    pub tar_bytes: u64,
    /// How many tar entries the set holds (pax extended headers not counted).
    pub entries: u64,
    /// BLAKE3 of the set file, 64 lower-case hex digits.
    pub b3: String,
    /// The set's hash list on the volume: "sets/set-00004.hashes.zst" ([`hash_list_file`]).
    pub hashes: String,
    /// BLAKE3 of the hash list file.
    pub hashes_b3: String,
}

/// The path of set `number` on a volume: "sets/set-00004.tar.zst".
pub fn set_file(number: u32, compression: Compression) -> String {
    format!("{SETS_DIR}/set-{number:05}.{}", compression.extension())
}

/// The path of the hash list of set `number` on a volume: "sets/set-00004.hashes.zst".
pub fn hash_list_file(number: u32) -> String {
    format!("{SETS_DIR}/set-{number:05}.hashes.zst")
}

/// How the archive sets are compressed (`--compress zstd|gzip|none`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// One zstd frame per set (the default).
    #[default]
    Zstd,
    /// One gzip member per set.
    Gzip,
    /// The plain tar stream.
    None,
}

impl Compression {
    pub const ALL: [Compression; 3] = [Compression::Zstd, Compression::Gzip, Compression::None];

    /// The name `--compress` and the manifest use: "zstd", "gzip", "none".
    pub fn name(self) -> &'static str {
        match self {
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
            Compression::None => "none",
        }
    }

    /// The set files' extension: "tar.zst", "tar.gz", "tar".
    pub fn extension(self) -> &'static str {
        match self {
            Compression::Zstd => "tar.zst",
            Compression::Gzip => "tar.gz",
            Compression::None => "tar",
        }
    }

    /// The most bytes `input` bytes can take once compressed, for data that does not
    /// compress at all: zstd's `ZSTD_COMPRESSBOUND`, zlib's `deflateBound` with the gzip
    /// wrapper, each with a few bytes to spare (frame checksum, headers).
    pub fn max_output(self, input: u64) -> u64 {
        const SPARE: u64 = 64;
        match self {
            Compression::Zstd => {
                let small = (128u64 << 10).saturating_sub(input) >> 11;
                input
                    .saturating_add(input >> 8)
                    .saturating_add(small)
                    .saturating_add(SPARE)
            }
            Compression::Gzip => input
                .saturating_add(input >> 12)
                .saturating_add(input >> 14)
                .saturating_add(input >> 25)
                .saturating_add(7 + 18 + SPARE),
            Compression::None => input,
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown compression {given:?}: use zstd (the default), gzip or none")]
pub struct UnknownCompression {
    pub given: String,
}

impl FromStr for Compression {
    type Err = UnknownCompression;

    /// "zstd", "gzip" or "none" (case-insensitive; "zst", "gz" and "tar" too).
    fn from_str(s: &str) -> Result<Compression, UnknownCompression> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zstd" | "zst" => Ok(Compression::Zstd),
            "gzip" | "gz" => Ok(Compression::Gzip),
            "none" | "tar" => Ok(Compression::None),
            _ => Err(UnknownCompression {
                given: s.to_string(),
            }),
        }
    }
}

/// Restore tools present in the rescue system (name -> path) and those the host lacked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ToolsInfo {
    #[serde(default)]
    pub available: BTreeMap<String, String>,
    #[serde(default)]
    pub missing: Vec<String>,
}

impl ToolsInfo {
    pub fn has(&self, name: &str) -> bool {
        self.available.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_labels() {
        assert_eq!(Manifest::volume_label("1A2B3C4D", 2), "RESCUE_1A2B3C4D_2");
    }

    fn manifest(volume: u32, volumes: u32) -> Manifest {
        Manifest {
            version: MANIFEST_VERSION,
            backup_id: "1A2B3C4D".into(),
            label: Manifest::volume_label("1A2B3C4D", volume),
            volume,
            volumes,
            created: 1,
            tool_version: "0.1.0".into(),
            hostname: "h".into(),
            kernel_release: "6.1".into(),
            sets: Vec::new(),
            compression: Compression::Zstd,
            mountlist_b3: (volume == 1).then(|| HEX_A.into()),
            catalog_b3: None,
        }
    }

    const HEX_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const HEX_B: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn set(number: u32) -> SetInfo {
        SetInfo {
            number,
            file: set_file(number, Compression::Zstd),
            bytes: 1000,
            tar_bytes: 10_240,
            entries: 3,
            b3: HEX_A.into(),
            hashes: hash_list_file(number),
            hashes_b3: HEX_B.into(),
        }
    }

    #[test]
    fn manifest_round_trips_and_rejects_unknown_fields() {
        let m = manifest(1, 1);
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(Manifest::parse(text.as_bytes()).unwrap(), m);
        assert_eq!(m.label, "RESCUE_1A2B3C4D_1");
        let bad = text.replace("\"volume\":1", "\"volume\":1,\"x\":0");
        let e = Manifest::parse(bad.as_bytes()).unwrap_err();
        assert!(e.problem.contains("unknown field `x`"), "{e}");
    }

    /// The example of docs/archive.md, as it is there (with hashes for its "<64 hex>").
    const DOC_EXAMPLE: &str = r#"{"version": 2, "backup_id": "1A2B3C4D", "label": "RESCUE_1A2B3C4D_1",
 "volume": 1, "volumes": 0, "created": 1763700000, "tool_version": "0.1.0",
 "hostname": "web1", "kernel_release": "6.1.0-28-cloud-amd64",
 "sets": [{"number": 1, "file": "sets/set-00001.tar.zst", "bytes": 3141592,
           "tar_bytes": 8388608, "entries": 120, "b3": "<64 hex>",
           "hashes": "sets/set-00001.hashes.zst", "hashes_b3": "<64 hex>"}],
 "compression": "zstd", "mountlist_b3": "<64 hex>", "catalog_b3": "<64 hex>"}"#;

    #[test]
    fn reads_the_documented_manifest_with_its_sets() {
        let text = DOC_EXAMPLE.replace("<64 hex>", HEX_A);
        let m = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(m.volume, 1);
        assert_eq!(m.volumes_known(), None);
        assert!(!m.is_last_volume());
        assert_eq!(m.compression, Compression::Zstd);
        assert_eq!(m.coverage(CoveredFile::Catalog), Coverage::Recorded(HEX_A));
        assert_eq!(
            m.sets,
            vec![SetInfo {
                number: 1,
                file: set_file(1, Compression::Zstd),
                bytes: 3_141_592,
                tar_bytes: 8_388_608,
                entries: 120,
                b3: HEX_A.into(),
                hashes: hash_list_file(1),
                hashes_b3: HEX_A.into(),
            }]
        );
        let back = Manifest::parse(serde_json::to_string(&m).unwrap().as_bytes()).unwrap();
        assert_eq!(back, m);
        // An unknown field inside a set is refused too, by its place.
        let bad = text.replace("\"entries\": 120", "\"entries\": 120, \"x\": 1");
        let e = Manifest::parse(bad.as_bytes()).unwrap_err();
        assert_eq!(e.field, "sets[0].x", "{e}");
    }

    #[test]
    fn a_version_1_manifest_still_reads_and_covers_nothing() {
        let old = r#"{"version": 1, "backup_id": "1A2B3C4D", "label": "RESCUE_1A2B3C4D_1",
            "volume": 1, "volumes": 1, "created": 1, "tool_version": "0.1.0",
            "hostname": "h", "kernel_release": "6.1"}"#;
        let m = Manifest::parse(old.as_bytes()).unwrap();
        assert_eq!(
            m,
            Manifest {
                version: 1,
                mountlist_b3: None,
                ..manifest(1, 1)
            }
        );
        assert!(m.sets.is_empty());
        for f in CoveredFile::ALL {
            assert_eq!(m.coverage(f), Coverage::NotCovered);
        }
        // Version 2: what volume 1 records, and what it does not have.
        let m = manifest(1, 1);
        assert_eq!(
            m.coverage(CoveredFile::Mountlist),
            Coverage::Recorded(HEX_A)
        );
        assert_eq!(m.coverage(CoveredFile::Catalog), Coverage::Absent);
        assert_eq!(
            CoveredFile::at("rescue/catalog.zst"),
            Some(CoveredFile::Catalog)
        );
        assert_eq!(
            CoveredFile::at("/rescue/mountlist.json"),
            Some(CoveredFile::Mountlist)
        );
        assert_eq!(CoveredFile::at("sets/set-00001.tar.zst"), None);
    }

    /// What `check` says of `m`: "field: problem".
    fn refused(m: &Manifest) -> String {
        m.check().unwrap_err().to_string()
    }

    #[test]
    fn the_volume_its_count_label_id_and_version_are_checked() {
        for (v, n) in [(1, 1), (1, 0), (2, 0), (3, 3)] {
            manifest(v, n).check().unwrap();
        }
        let e = refused(&manifest(2, 3));
        assert!(
            e.starts_with("volumes: 3 on volume 2: only the last volume"),
            "{e}"
        );
        assert!(refused(&manifest(0, 0)).starts_with("volume: 0 is not a volume number"));
        assert!(refused(&manifest(MAX_VOLUMES + 1, 0)).starts_with("volume: "));
        let m = Manifest {
            label: "RESCUE_1A2B3C4D".into(),
            ..manifest(2, 0)
        };
        assert_eq!(
            refused(&m),
            "label: \"RESCUE_1A2B3C4D\", expected \"RESCUE_1A2B3C4D_2\""
        );
        for id in ["", "../x", "1A2B 3C4D", "0123456789ABCDEF0"] {
            let m = Manifest {
                label: Manifest::volume_label(id, 2),
                backup_id: id.into(),
                ..manifest(2, 0)
            };
            assert!(refused(&m).starts_with("backup_id: "), "{id:?}");
        }
        for version in [0, MANIFEST_VERSION + 1] {
            let e = refused(&Manifest {
                version,
                ..manifest(2, 0)
            });
            assert!(
                e.starts_with(&format!("version: version {version} is not")),
                "{e}"
            );
        }
    }

    #[test]
    fn volume_1_records_its_mountlist_and_only_it_does() {
        let e = refused(&Manifest {
            mountlist_b3: None,
            ..manifest(1, 1)
        });
        assert!(e.starts_with("mountlist_b3: missing"), "{e}");
        let e = refused(&Manifest {
            catalog_b3: Some(HEX_B.into()),
            ..manifest(2, 0)
        });
        assert!(e.starts_with("catalog_b3: only volume 1"), "{e}");
        let e = refused(&Manifest {
            catalog_b3: Some("ABC".into()),
            ..manifest(1, 0)
        });
        assert!(e.starts_with("catalog_b3: \"ABC\" is not a BLAKE3"), "{e}");
        let e = refused(&Manifest {
            version: 1,
            ..manifest(1, 0)
        });
        assert!(e.starts_with("mountlist_b3: a version 1 manifest"), "{e}");
    }

    fn with_sets(volume: u32, sets: Vec<SetInfo>) -> Manifest {
        Manifest {
            sets,
            ..manifest(volume, 0)
        }
    }

    #[test]
    fn sets_are_consecutive_and_within_what_the_volumes_can_list() {
        with_sets(2, vec![set(5), set(6), set(7)]).check().unwrap();
        let e = refused(&with_sets(1, vec![set(0)]));
        assert!(
            e.starts_with("sets[0].number: 0 is not a set number"),
            "{e}"
        );
        // A huge number on a volume that lists two sets.
        let e = refused(&with_sets(1, vec![set(u32::MAX - 1), set(u32::MAX)]));
        assert_eq!(
            e,
            format!(
                "sets[0].number: {} is not a set number volume 1 can hold (1 to {MAX_SETS_PER_VOLUME})",
                u32::MAX - 1
            )
        );
        with_sets(2, vec![set(2 * MAX_SETS_PER_VOLUME)])
            .check()
            .unwrap();
        assert!(
            refused(&with_sets(2, vec![set(2 * MAX_SETS_PER_VOLUME + 1)]))
                .starts_with("sets[0].number")
        );
        for numbers in [[3, 2], [3, 3], [3, 5]] {
            let e = refused(&with_sets(2, numbers.iter().map(|&n| set(n)).collect()));
            assert!(
                e.starts_with(&format!("sets[1].number: {} follows set 3", numbers[1])),
                "{e}"
            );
        }
    }

    #[test]
    fn no_path_but_the_sets_own_is_opened_and_every_hash_is_checkable() {
        type Change = fn(&mut SetInfo);
        let cases: Vec<(Change, &str)> = vec![
            (
                |s| s.file = "../../etc/shadow".into(),
                "sets[0].file: \"../../etc/shadow\", expected \"sets/set-00002.tar.zst\"",
            ),
            (
                |s| s.file = "/sets/set-00002.tar.zst".into(),
                "sets[0].file: ",
            ),
            (
                |s| s.file = "sets/set-00002.tar.gz".into(),
                "sets[0].file: ",
            ),
            (
                |s| s.hashes = "rescue/catalog.zst".into(),
                "sets[0].hashes: \"rescue/catalog.zst\"",
            ),
            (|s| s.b3 = HEX_A.to_uppercase(), "sets[0].b3: "),
            (|s| s.b3 = String::new(), "sets[0].b3: \"\" is not a BLAKE3"),
            (|s| s.hashes_b3 = format!("{HEX_A}0"), "sets[0].hashes_b3: "),
            (|s| s.bytes = MAX_VOLUME_BYTES + 1, "sets[0].bytes: "),
            (|s| s.tar_bytes = u64::MAX, "sets[0].tar_bytes: "),
            (
                |s| s.entries = 21,
                "sets[0].entries: 21 entries cannot fit in 10240 bytes",
            ),
        ];
        for (change, want) in cases {
            let mut s = set(2);
            change(&mut s);
            let e = refused(&with_sets(2, vec![s]));
            assert!(e.starts_with(want), "{e} (wanted {want})");
        }
    }

    #[test]
    fn a_manifest_too_large_or_not_json_is_refused_by_field() {
        let big = vec![b' '; MAX_MANIFEST_BYTES as usize + 1];
        let e = Manifest::parse(&big).unwrap_err();
        assert!(e.problem.contains("more than the 16777216"), "{e}");
        let e = Manifest::parse(b"{not json").unwrap_err();
        assert_eq!(e.field, "(the file)");
        let e = Manifest::parse(br#"{"version": "two"}"#).unwrap_err();
        assert_eq!(e.field, "version", "{e}");
        // MAX_SETS_PER_VOLUME holds: the smallest entry a check lets through is longer
        // than the 256 bytes the bound assumes.
        let mut small = set(1);
        small.bytes = 0;
        small.tar_bytes = 0;
        small.entries = 0;
        small.file = set_file(1, Compression::None);
        assert!(serde_json::to_string(&small).unwrap().len() > 256);
    }

    #[test]
    fn volumes_zero_means_not_known_yet() {
        assert_eq!(manifest(2, 0).volumes_known(), None);
        assert!(!manifest(2, 0).is_last_volume());
        assert_eq!(manifest(3, 3).volumes_known(), Some(3));
        assert!(manifest(3, 3).is_last_volume());
        assert!(manifest(1, 1).is_last_volume());
    }

    #[test]
    fn compression_names_and_extensions() {
        for c in Compression::ALL {
            assert_eq!(c.name().parse::<Compression>(), Ok(c));
            assert_eq!(c.to_string(), c.name());
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.name()));
            assert_eq!(serde_json::from_str::<Compression>(&json).unwrap(), c);
        }
        assert_eq!(Compression::Zstd.extension(), "tar.zst");
        assert_eq!(Compression::Gzip.extension(), "tar.gz");
        assert_eq!(Compression::None.extension(), "tar");
        assert_eq!(" ZSTD ".parse(), Ok(Compression::Zstd));
        assert_eq!("gz".parse(), Ok(Compression::Gzip));
        assert_eq!(Compression::default(), Compression::Zstd);
        let e = "xz".parse::<Compression>().unwrap_err().to_string();
        assert!(
            e.contains("\"xz\"") && e.contains("gzip") && e.contains("none"),
            "{e}"
        );
        assert!(serde_json::from_str::<Compression>("\"xz\"").is_err());
    }

    #[test]
    fn set_file_names() {
        assert_eq!(set_file(1, Compression::Zstd), "sets/set-00001.tar.zst");
        assert_eq!(set_file(42, Compression::Gzip), "sets/set-00042.tar.gz");
        assert_eq!(set_file(7, Compression::None), "sets/set-00007.tar");
        assert_eq!(set_file(123_456, Compression::None), "sets/set-123456.tar");
        assert_eq!(hash_list_file(4), "sets/set-00004.hashes.zst");
    }

    #[test]
    fn compression_bounds_cover_incompressible_data() {
        assert_eq!(Compression::None.max_output(1000), 1000);
        for n in [0u64, 1, 1000, 128 << 10, 1 << 20, 256 << 20] {
            for c in [Compression::Zstd, Compression::Gzip] {
                assert!(c.max_output(n) > n, "{c} {n}");
                // Never more than 1% plus a little on large inputs.
                assert!(c.max_output(n) <= n + n / 100 + 200, "{c} {n}");
            }
        }
        assert_eq!(Compression::Zstd.max_output(u64::MAX), u64::MAX);
        // Checked against the real compressors on random bytes.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let data: Vec<u8> = (0..300_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let zstd = zstd::encode_all(&data[..], 19).unwrap();
        assert!(zstd.len() as u64 <= Compression::Zstd.max_output(data.len() as u64));
    }

    #[test]
    fn tools_info_answers_what_is_there() {
        let mut t = ToolsInfo::default();
        t.available
            .insert("mkfs.ext4".into(), "/usr/sbin/mkfs.ext4".into());
        assert!(t.has("mkfs.ext4"));
        assert!(!t.has("mkfs.btrfs"));
    }
}
