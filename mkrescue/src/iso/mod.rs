//! The ISO 9660 image writer, behind a thin module so the library under it (hadris-iso)
//! can be replaced.
//!
//! An image holds ISO 9660 (level 3: files of 4 GiB and more take several extents) with
//! Rock Ridge and Joliet, El Torito boot entries for BIOS (ISOLINUX, boot info table
//! patched) and UEFI (platform 0xEF, a FAT image), and, when asked, a hybrid MBR + GPT so
//! the same file boots when written to a USB stick. File contents are streamed from the
//! host while the image is written. The same spec and time give the same bytes.

use crate::output::{StagedFile, PRIVATE_FILE};
use anyhow::{bail, Context, Result};
use hadris_fs::{Content, DateTime, Node, Tree};
use hadris_iso::{
    AppendedPartition, BootEntry, BootInfo, ElTorito, Hybrid, IsoId, IsoLevel, IsoOptions,
};
use std::path::Path;

/// Where a file's bytes come from: a host file (read while the image is written) or
/// bytes in memory. The same type the initramfs tree uses.
pub use crate::initramfs::tree::Source as IsoSource;

/// The El Torito BIOS entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BiosEntry {
    /// ISO path of the no-emulation boot image: "/boot/isolinux/isolinux.bin". Gets a
    /// boot info table and a load size of 4 sectors, as ISOLINUX needs.
    pub image: String,
    /// ISO path the boot catalog is listed at: "/boot/isolinux/boot.cat".
    pub catalog: String,
    /// MBR boot code for the hybrid image (syslinux's isohdpfx.bin, 432 bytes).
    pub mbr: Option<Vec<u8>>,
}

/// What to write.
#[derive(Debug, Clone)]
pub struct IsoSpec {
    /// The volume id: d-characters (A-Z, 0-9, _), at most 32.
    pub volume_id: String,
    /// Files by absolute ISO path; directories are implied.
    pub files: Vec<(String, IsoSource)>,
    pub bios: Option<BiosEntry>,
    /// ISO path of the FAT image the UEFI entry boots.
    pub uefi: Option<String>,
    /// Adds an MBR and a GPT (with the FAT image as EFI system partition), so the
    /// image also boots as a disk.
    pub hybrid: bool,
    /// The publisher id: printable ASCII, at most 128.
    pub publisher: String,
    /// Seconds since the epoch that date the volume and every file
    /// (`SOURCE_DATE_EPOCH`).
    pub mtime: i64,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsoStats {
    /// The image's size in bytes.
    pub bytes: u64,
    /// Files stored (not counting the boot catalog).
    pub files: usize,
    /// What the writer could not store exactly (a Joliet name cut to 64 characters...).
    pub warnings: Vec<String>,
}

/// The logical block size of ISO 9660.
pub const SECTOR: u64 = 2048;
/// 4-sector load size ISOLINUX expects (the El Torito default would load one sector).
const ISOLINUX_LOAD_SECTORS: u16 = 4;
/// What the application id field says.
const APPLICATION: &str = "MKRESCUE";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VolumeIdError {
    #[error("the volume id is empty")]
    Empty,
    #[error("the volume id {id:?} is {len} characters long; ISO 9660 allows at most 32")]
    TooLong { id: String, len: usize },
    #[error(
        "the volume id {id:?} holds {bad:?}; ISO 9660 allows only A-Z, 0-9 and _ \
         (d-characters)"
    )]
    BadChar { id: String, bad: char },
}

/// Checks a volume id: 1 to 32 d-characters (A-Z, 0-9, _).
pub fn validate_volume_id(id: &str) -> Result<(), VolumeIdError> {
    if id.is_empty() {
        return Err(VolumeIdError::Empty);
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Err(VolumeIdError::BadChar {
            id: id.to_string(),
            bad,
        });
    }
    if id.len() > 32 {
        return Err(VolumeIdError::TooLong {
            id: id.to_string(),
            len: id.len(),
        });
    }
    Ok(())
}

/// Checks a publisher id: at most 128 printable ASCII characters. ISO 9660 asks for
/// a-characters (upper case, digits, space and some punctuation), but readers take any,
/// and xorriso and genisoimage store what they are given: so does this writer.
pub fn validate_publisher(publisher: &str) -> Result<()> {
    if let Some(bad) = publisher
        .chars()
        .find(|c| !(c.is_ascii_graphic() || *c == ' '))
    {
        bail!("the publisher id {publisher:?} holds {bad:?}; only printable ASCII fits");
    }
    if publisher.len() > 128 {
        bail!(
            "the publisher id is {} characters long; ISO 9660 allows at most 128",
            publisher.len()
        );
    }
    Ok(())
}

/// Writes the image to `out` through a [`StagedFile`] (a fresh private temporary name
/// beside it, synced, then renamed into place), mode 0600. On any error the temporary is
/// removed and `out` is left as it was.
pub fn write_iso(spec: &IsoSpec, out: &Path) -> Result<IsoStats> {
    let (tree, options) = plan(spec)?;
    let staged = StagedFile::create(out, PRIVATE_FILE)?;
    write_staged(&tree, &options, staged, spec.files.len())
}

/// The size `write_iso` would write, without writing it.
pub fn planned_size(spec: &IsoSpec) -> Result<u64> {
    let (tree, options) = plan(spec)?;
    let report = hadris_iso::plan(&tree, &options)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("laying out the ISO image")?;
    Ok(report.size())
}

fn write_staged(
    tree: &Tree,
    options: &IsoOptions,
    mut staged: StagedFile,
    files: usize,
) -> Result<IsoStats> {
    let tmp = staged.path().to_path_buf();
    let file = staged.file();
    let mut device = hadris_storage::host::FileDevice::new(
        file.try_clone()
            .with_context(|| format!("opening {}", tmp.display()))?,
    )
    .with_context(|| format!("opening {}", tmp.display()))?;
    // The writer's error keeps its cause (ENOSPC, EIO) as its source.
    let report = hadris_iso::sync::write(&mut device, tree, options)
        .map_err(anyhow::Error::new)
        .with_context(|| format!("writing the ISO image {}", tmp.display()))?;
    drop(device);
    // The writer only ever writes whole blocks: make the length exactly the image's.
    file.set_len(report.size())
        .with_context(|| format!("setting the size of {}", tmp.display()))?;
    staged.commit()?;
    Ok(IsoStats {
        bytes: report.size(),
        files,
        warnings: report.warnings().iter().map(|w| w.to_string()).collect(),
    })
}

fn content(source: &IsoSource, iso_path: &str) -> Result<Content> {
    match source {
        IsoSource::Bytes(bytes) => Ok(Content::bytes(bytes.clone())),
        IsoSource::Host(host) => hadris_fs::host::file(host)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("{iso_path}: reading {}", host.display())),
    }
}

/// The hadris tree and options of `spec`.
fn plan(spec: &IsoSpec) -> Result<(Tree, IsoOptions)> {
    validate_volume_id(&spec.volume_id)?;
    validate_publisher(&spec.publisher)?;
    let mut tree = Tree::new();
    for (path, source) in &spec.files {
        check_iso_path(path)?;
        tree.insert(path.as_bytes(), Node::file(content(source, path)?))
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("adding {path} to the ISO image"))?;
    }
    let time = DateTime::from_unix_seconds(spec.mtime)
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .with_context(|| format!("{} is not a time an ISO image can hold", spec.mtime))?;
    let mut options = IsoOptions::new()
        .with_id(IsoId::Volume, &spec.volume_id)
        .with_id(IsoId::Publisher, &spec.publisher)
        .with_id(IsoId::Application, APPLICATION)
        .with_level(IsoLevel::L3)
        .with_rock_ridge()
        .with_joliet()
        .with_time(time);

    let find = |path: &str, what: &str| -> Result<&IsoSource> {
        spec.files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, s)| s)
            .with_context(|| format!("the {what} {path} is not among the files of the image"))
    };
    let mut el_torito = ElTorito::new();
    let mut uefi_appended = None;
    if let Some(bios) = &spec.bios {
        find(&bios.image, "BIOS boot image")?;
        check_iso_path(&bios.catalog)?;
        if spec.files.iter().any(|(p, _)| *p == bios.catalog) {
            bail!(
                "the boot catalog {} is also a file of the image",
                bios.catalog
            );
        }
        el_torito = el_torito
            .with_entry(
                BootEntry::bios(&bios.image)
                    .with_load_size(ISOLINUX_LOAD_SECTORS)
                    .with_boot_info(BootInfo::Table),
            )
            .with_catalog_path(&bios.catalog);
    }
    if let Some(uefi) = &spec.uefi {
        let source = find(uefi, "UEFI boot image")?;
        if spec.bios.is_none() && spec.hybrid {
            // hadris-iso gives the GPT an EFI system partition over a UEFI entry only
            // when it is not the default (first) entry: without a BIOS entry, store the
            // FAT image again as an appended partition and boot that.
            el_torito = el_torito.with_entry(BootEntry::uefi_appended(0));
            uefi_appended = Some(content(source, uefi)?);
        } else {
            el_torito = el_torito.with_entry(BootEntry::uefi(uefi));
        }
    }
    if spec.bios.is_some() || spec.uefi.is_some() {
        options = options.with_el_torito(el_torito);
    }
    if spec.hybrid {
        let mut hybrid = Hybrid::gpt_hybrid_mbr();
        if let Some(code) = spec.bios.as_ref().and_then(|b| b.mbr.as_deref()) {
            if code.len() > 432 {
                bail!(
                    "the hybrid MBR boot code is {} bytes; at most 432 fit before the \
                     boot image address",
                    code.len()
                );
            }
            // Bytes 432..440 get the BIOS boot image's address, as isohdpfx reads it.
            hybrid = hybrid.with_bootstrap(code);
        }
        if let Some(esp) = uefi_appended {
            hybrid = hybrid.with_appended(AppendedPartition::esp(esp));
        }
        options = options.with_hybrid(hybrid);
    }
    Ok((tree, options))
}

fn check_iso_path(path: &str) -> Result<()> {
    if !path.starts_with('/')
        || path.len() < 2
        || path.ends_with('/')
        || path
            .split('/')
            .skip(1)
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        bail!("{path:?}: ISO paths must be absolute and plain (no \"..\", no empty parts)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn spec(files: Vec<(String, IsoSource)>) -> IsoSpec {
        IsoSpec {
            volume_id: "RESCUE_TEST".into(),
            files,
            bios: None,
            uefi: None,
            hybrid: false,
            publisher: "MKRESCUE".into(),
            mtime: 1_700_000_000,
        }
    }

    #[test]
    fn volume_ids_are_checked() {
        validate_volume_id("RESCUE_1A2B3C4D").unwrap();
        validate_volume_id(&"A".repeat(32)).unwrap();
        assert_eq!(validate_volume_id(""), Err(VolumeIdError::Empty));
        let err = validate_volume_id(&"A".repeat(33)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the volume id \"{}\" is 33 characters long; ISO 9660 allows at most 32",
                "A".repeat(33)
            )
        );
        let err = validate_volume_id("rescue").unwrap_err();
        assert!(matches!(err, VolumeIdError::BadChar { bad: 'r', .. }));
        assert!(err.to_string().contains("only A-Z, 0-9 and _"), "{err}");
        assert!(validate_volume_id("RESCUE-1").is_err());
        assert!(validate_volume_id("RESCUE 1").is_err());
        validate_publisher("mkrescue 0.1.0 (host-1.example)").unwrap();
        assert!(validate_publisher("tab\there").is_err());
        assert!(validate_publisher("é").is_err());
        assert!(validate_publisher(&"P".repeat(129)).is_err());
    }

    #[test]
    fn a_bad_spec_fails_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.iso");
        let mut s = spec(vec![("/a".into(), IsoSource::Bytes(b"a".to_vec()))]);
        s.volume_id = "bad id".into();
        assert!(write_iso(&s, &out).is_err());
        let mut s = spec(vec![("relative".into(), IsoSource::Bytes(vec![]))]);
        assert!(write_iso(&s, &out).is_err());
        s.files = vec![("/a/../b".into(), IsoSource::Bytes(vec![]))];
        assert!(write_iso(&s, &out).is_err());
        let mut s = spec(vec![]);
        s.uefi = Some("/boot/efiboot.img".into());
        let err = write_iso(&s, &out).unwrap_err().to_string();
        assert!(err.contains("not among the files"), "{err}");
        let mut s = spec(vec![]);
        s.files = vec![(
            "/missing".into(),
            IsoSource::Host(dir.path().join("no-such-file")),
        )];
        let err = format!("{:#}", write_iso(&s, &out).unwrap_err());
        assert!(err.contains("/missing: reading"), "{err}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn writes_atomically_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("host-file");
        fs::write(&host, vec![7u8; 100_000]).unwrap();
        let out = dir.path().join("rescue-1.iso");
        // A file at the old fixed temporary name (another user's, or a stale one) is
        // neither written through nor removed.
        let stale = dir.path().join(".rescue-1.iso.partial");
        fs::write(&stale, vec![1u8; 10 << 20]).unwrap();
        let s = spec(vec![
            ("/boot/vmlinuz".into(), IsoSource::Host(host)),
            (
                "/Some Mixed-Case long file name.txt".into(),
                IsoSource::Bytes(b"hello\n".to_vec()),
            ),
        ]);
        let stats = write_iso(&s, &out).unwrap();
        let meta = fs::metadata(&out).unwrap();
        assert_eq!(meta.len(), stats.bytes);
        assert_eq!(stats.bytes % SECTOR, 0);
        assert_eq!(stats.bytes, planned_size(&s).unwrap());
        assert_eq!(stats.files, 2);
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        let partials: Vec<_> = names.iter().filter(|n| n.ends_with(".partial")).collect();
        assert_eq!(partials, [".rescue-1.iso.partial"], "{names:?}");
        assert_eq!(fs::read(&stale).unwrap(), vec![1u8; 10 << 20]);
        let image = fs::read(&out).unwrap();
        assert_eq!(&image[16 * 2048 + 1..16 * 2048 + 6], b"CD001");
        assert_eq!(
            &image[16 * 2048 + 40..16 * 2048 + 51],
            b"RESCUE_TEST",
            "volume id in the primary volume descriptor"
        );
    }

    #[test]
    fn a_failed_write_leaves_no_partial_file_and_keeps_the_old_image() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("rescue-1.iso");
        fs::write(&out, b"old image").unwrap();
        let host = dir.path().join("shrinks");
        fs::write(&host, vec![1u8; 50_000]).unwrap();
        let s = spec(vec![("/file".into(), IsoSource::Host(host.clone()))]);
        let (tree, options) = plan(&s).unwrap();
        // The file changes between planning and writing: the writer must notice.
        fs::write(&host, b"short").unwrap();
        let staged = StagedFile::create(&out, PRIVATE_FILE).unwrap();
        assert!(write_staged(&tree, &options, staged, 1).is_err());
        // And through the public function: a directory where a file should be.
        let s = spec(vec![("/dir".into(), IsoSource::Host(dir.path().into()))]);
        assert!(write_iso(&s, &out).is_err());
        assert_eq!(fs::read(&out).unwrap(), b"old image");
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["rescue-1.iso", "shrinks"],
            "no temporary file is left"
        );
    }

    #[test]
    fn same_spec_and_time_give_identical_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let files = || {
            vec![
                ("/boot/vmlinuz".into(), IsoSource::Bytes(vec![1u8; 5000])),
                (
                    "/boot/isolinux/isolinux.bin".into(),
                    IsoSource::Bytes(vec![0xfau8; 4096]),
                ),
                (
                    "/boot/efiboot.img".into(),
                    IsoSource::Bytes(vec![0u8; 64 * 1024]),
                ),
                (
                    "/README.txt".into(),
                    IsoSource::Bytes(b"read me\n".to_vec()),
                ),
            ]
        };
        let mut s = spec(files());
        s.bios = Some(BiosEntry {
            image: "/boot/isolinux/isolinux.bin".into(),
            catalog: "/boot/isolinux/boot.cat".into(),
            mbr: Some(vec![0x33; 432]),
        });
        s.uefi = Some("/boot/efiboot.img".into());
        s.hybrid = true;
        let a = dir.path().join("a.iso");
        let b = dir.path().join("b.iso");
        write_iso(&s, &a).unwrap();
        write_iso(&s, &b).unwrap();
        let (a_bytes, b_bytes) = (fs::read(&a).unwrap(), fs::read(&b).unwrap());
        assert!(a_bytes == b_bytes, "two writes of one spec differ");
        assert_eq!(&a_bytes[510..512], &[0x55, 0xAA]);
        assert_eq!(&a_bytes[..432], &[0x33; 432][..]);
        // Another time gives another image.
        s.mtime += 1;
        write_iso(&s, &b).unwrap();
        assert!(fs::read(&b).unwrap() != a_bytes);
    }
}
