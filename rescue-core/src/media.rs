//! What rescue media carry besides the mountlist: the manifest on every volume, and the
//! record of which restore tools the rescue system holds.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The manifest format version.
pub const MANIFEST_VERSION: u32 = 1;

/// Where files live on a volume.
pub const MANIFEST_PATH: &str = "/rescue/manifest.json";
pub const MOUNTLIST_PATH: &str = "/rescue/mountlist.json";
/// Volume 1: every file of the backup, where its data lives (see `catalog`).
pub const CATALOG_PATH: &str = "/rescue/catalog.zst";
/// The folder of the archive sets and their hash lists, on every volume.
pub const SETS_DIR: &str = "sets";
/// Where the initramfs keeps its own copies.
pub const INITRAMFS_MOUNTLIST: &str = "/etc/rescue/mountlist.json";
pub const INITRAMFS_TOOLS: &str = "/etc/rescue/tools.json";

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
            label: Manifest::label_for("1A2B3C4D"),
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

    #[test]
    fn manifest_round_trips_and_rejects_unknown_fields() {
        let m = manifest(1, 1);
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Manifest>(&text).unwrap(), m);
        assert_eq!(m.label, "RESCUE_1A2B3C4D");
        let bad = text.replace("\"volume\":1", "\"volume\":1,\"x\":0");
        assert!(serde_json::from_str::<Manifest>(&bad).is_err());
    }

    /// The example of docs/archive.md, as it is there.
    const DOC_EXAMPLE: &str = r#"{"version": 1, "backup_id": "1A2B3C4D", "label": "RESCUE_1A2B3C4D", "volume": 2,
 "volumes": 3, "created": 1763700000, "tool_version": "0.1.0", "hostname": "web1",
 "kernel_release": "6.1.0-28-cloud-amd64",
 "sets": [{"number": 4, "file": "sets/set-00004.tar.zst", "bytes": 3141592,
           "tar_bytes": 8388608, "entries": 120, "b3": "<64 hex>",
           "hashes": "sets/set-00004.hashes.zst", "hashes_b3": "<64 hex>"}],
 "compression": "zstd"}"#;

    #[test]
    fn reads_the_documented_manifest_with_its_sets() {
        let m: Manifest = serde_json::from_str(DOC_EXAMPLE).unwrap();
        assert_eq!(m.volume, 2);
        assert_eq!(m.volumes_known(), Some(3));
        assert!(!m.is_last_volume());
        assert_eq!(m.compression, Compression::Zstd);
        assert_eq!(
            m.sets,
            vec![SetInfo {
                number: 4,
                file: set_file(4, Compression::Zstd),
                bytes: 3_141_592,
                tar_bytes: 8_388_608,
                entries: 120,
                b3: "<64 hex>".into(),
                hashes: hash_list_file(4),
                hashes_b3: "<64 hex>".into(),
            }]
        );
        let back: Manifest = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
        // An unknown field inside a set is refused too.
        let bad = DOC_EXAMPLE.replace("\"entries\": 120", "\"entries\": 120, \"x\": 1");
        assert!(serde_json::from_str::<Manifest>(&bad).is_err());
    }

    #[test]
    fn a_manifest_without_sets_is_boot_media_compressed_the_default_way() {
        let old = r#"{"version": 1, "backup_id": "1A2B3C4D", "label": "RESCUE_1A2B3C4D",
            "volume": 1, "volumes": 1, "created": 1, "tool_version": "0.1.0",
            "hostname": "h", "kernel_release": "6.1"}"#;
        let m: Manifest = serde_json::from_str(old).unwrap();
        assert_eq!(m, manifest(1, 1));
        assert!(m.sets.is_empty());
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
