//! Whether a restored system starts, judged without its help: a real host's restored
//! system need not print anything on a serial port. The judge is its root filesystem:
//! ext2/3/4 write the mount time and count into the superblock, at once, when the
//! filesystem is mounted read-write. So the superblock of / is read from the disk image
//! before the restored disks boot and again while they run; a change means the restored
//! system's own kernel found, mounted and wrote its root. The serial console counts too,
//! for systems that use it (a login prompt, or a text the user names).

use crate::probe::table::read_table;
use rescue_core::mountlist::{FsType, Mountlist};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Virtual disks have 512-byte sectors.
const SECTOR: u64 = 512;
const EXT_MAGIC: u16 = 0xef53;

/// Where the restored root filesystem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootPlace {
    pub image: PathBuf,
    /// 0: the whole disk.
    pub partition: u32,
    pub fs_type: FsType,
    /// How the mountlist names it: "/dev/sda2 (ext4, LABEL=root)".
    pub name: String,
}

/// The root filesystem of `ml` on the images (one per disk, in mountlist order).
pub fn root_place(ml: &Mountlist, images: &[PathBuf]) -> Option<RootPlace> {
    for (disk, image) in ml.disks.iter().zip(images) {
        let whole = disk.filesystem.as_ref().map(|f| (0, disk.path.as_str(), f));
        let parts = disk.partitions.iter().filter_map(|p| {
            p.filesystem
                .as_ref()
                .map(|f| (p.number, p.path.as_str(), f))
        });
        for (partition, path, fs) in whole.into_iter().chain(parts) {
            if fs.mount_point.as_deref() == Some("/") {
                let label = fs
                    .label
                    .as_deref()
                    .map(|l| format!(", LABEL={l}"))
                    .unwrap_or_default();
                return Some(RootPlace {
                    image: image.clone(),
                    partition,
                    fs_type: fs.fs_type.clone(),
                    name: format!("{path} ({}{label})", fs.fs_type.as_str()),
                });
            }
        }
    }
    None
}

/// What can be seen of the restored disks' boot paths from outside, one line a disk: the
/// boot code in its MBR, what its BIOS boot partitions and EFI System Partitions hold.
/// For a boot check that saw no sign of life: was there anything to boot?
pub fn outside_view(images: &[PathBuf]) -> Vec<String> {
    images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            let name = format!("disk {} ({})", i + 1, image.display());
            match disk_view(image) {
                Ok(parts) => format!("{name}: {}", parts.join("; ")),
                Err(e) => format!("{name}: cannot be read: {e}"),
            }
        })
        .collect()
}

fn disk_view(image: &Path) -> anyhow::Result<Vec<String>> {
    use rescue_core::mountlist::boot_paths::{bios_boot_loader, mbr_loader};
    use rescue_core::mountlist::GPT_TYPE_BIOS_BOOT;
    let mut f = File::open(image)?;
    let sectors = f.metadata()?.len() / 512;
    let mut out = Vec::new();
    let mut first = [0u8; 512];
    f.read_exact(&mut first)?;
    out.push(match mbr_loader(&first) {
        Some(loader) => format!("MBR boot code: {loader}"),
        None => "no boot code in the MBR".into(),
    });
    let table = read_table(&mut f, "disk", sectors, 512)?;
    for p in &table.partitions {
        if p.gpt
            .as_ref()
            .is_some_and(|g| g.type_guid == GPT_TYPE_BIOS_BOOT)
        {
            let mut sector = [0u8; 512];
            f.seek(SeekFrom::Start(p.start * 512))?;
            f.read_exact(&mut sector)?;
            out.push(match bios_boot_loader(&sector) {
                Some(loader) => format!("BIOS boot partition {}: {loader}", p.number),
                None => format!("BIOS boot partition {}: empty", p.number),
            });
        }
        if p.is_esp() {
            out.push(format!(
                "EFI System Partition {}: {}",
                p.number,
                esp_loaders(image, p.start * 512)
            ));
        }
    }
    Ok(out)
}

/// The .efi files under EFI/ of the FAT filesystem at `offset` of `image`, listed by
/// mtools (this host may not mount vfat).
fn esp_loaders(image: &Path, offset: u64) -> String {
    use rescue_core::runner::{Cmd, RealRunner, RunError, Runner};
    let cmd = Cmd::new("mdir")
        .args(["-/", "-b", "-i"])
        .arg(format!("{}@@{offset}", image.display()))
        .arg("::/EFI")
        .env("MTOOLS_SKIP_CHECK", "1")
        .describe("list the EFI directory of a restored ESP");
    match RealRunner.run(&cmd) {
        Ok(out) => {
            let files: Vec<String> = out
                .stdout_text()
                .lines()
                .filter(|l| l.to_ascii_lowercase().ends_with(".efi"))
                .map(|l| l.trim_start_matches("::/").to_string())
                .collect();
            if files.is_empty() {
                "no .efi file under EFI/".into()
            } else {
                files.join(", ")
            }
        }
        Err(e @ RunError::Failed { .. }) => format!("no EFI directory ({e})"),
        Err(e) => format!("not looked at ({e})"),
    }
}

/// What an ext superblock says about its mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MountStamp {
    /// s_mtime: seconds since the epoch of the last read-write mount.
    pub time: u32,
    /// s_mnt_count: read-write mounts since the last check.
    pub count: u16,
}

/// The mount stamp of an ext2/3/4 superblock (`sb` from byte 1024 of the filesystem).
pub fn parse_stamp(sb: &[u8]) -> Option<MountStamp> {
    let u16_at = |at: usize| sb.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |at: usize| {
        sb.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if u16_at(0x38)? != EXT_MAGIC {
        return None;
    }
    Some(MountStamp {
        time: u32_at(0x2c)?,
        count: u16_at(0x34)?,
    })
}

/// Reads the root filesystem's mount stamp from its image; `None` when it is no ext
/// filesystem (or the table no longer has its partition).
pub fn read_stamp(place: &RootPlace) -> anyhow::Result<Option<MountStamp>> {
    use anyhow::Context;
    let mut f =
        File::open(&place.image).with_context(|| format!("opening {}", place.image.display()))?;
    let start = if place.partition == 0 {
        0
    } else {
        let table = read_table(&mut f, &place.image.display().to_string(), 0, SECTOR as u32)
            .with_context(|| format!("reading the partition table of {}", place.image.display()))?;
        match table
            .partitions
            .iter()
            .find(|p| p.number == place.partition)
        {
            Some(p) => p.start * SECTOR,
            None => return Ok(None),
        }
    };
    let mut sb = vec![0u8; 1024];
    f.seek(SeekFrom::Start(start + 1024))
        .and_then(|_| f.read_exact(&mut sb))
        .with_context(|| format!("reading the superblock in {}", place.image.display()))?;
    Ok(parse_stamp(&sb))
}

/// Whether the filesystem type keeps a mount stamp this module reads.
pub fn stamped(fs: &FsType) -> bool {
    matches!(fs, FsType::Ext2 | FsType::Ext3 | FsType::Ext4)
}

/// What on the serial console shows a restored system at work: a login prompt, or the
/// text the user gave.
pub fn serial_sign<'a>(log: &str, expect: Option<&'a str>) -> Option<&'a str> {
    match expect {
        Some(text) => log.contains(text).then_some(text),
        None => log.contains("login:").then_some("login:"),
    }
}

/// The images of a rehearsal's disks, named by their index.
pub fn image_name(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("disk{i}.img"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn superblock(count: u16, time: u32) -> Vec<u8> {
        let mut sb = vec![0u8; 1024];
        sb[0x38..0x3a].copy_from_slice(&EXT_MAGIC.to_le_bytes());
        sb[0x34..0x36].copy_from_slice(&count.to_le_bytes());
        sb[0x2c..0x30].copy_from_slice(&time.to_le_bytes());
        sb
    }

    #[test]
    fn the_stamp_is_read_from_an_ext_superblock_only() {
        assert_eq!(
            parse_stamp(&superblock(3, 1_700_000_000)),
            Some(MountStamp {
                time: 1_700_000_000,
                count: 3
            })
        );
        assert_eq!(parse_stamp(&[0u8; 1024]), None);
        assert_eq!(parse_stamp(&[0u8; 16]), None);
    }

    #[test]
    fn a_whole_disk_image_is_read_at_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("disk0.img");
        let mut data = vec![0u8; 4096];
        data[1024..2048].copy_from_slice(&superblock(7, 42));
        std::fs::write(&image, data).unwrap();
        let place = RootPlace {
            image,
            partition: 0,
            fs_type: FsType::Ext4,
            name: "/dev/sdb (ext4)".into(),
        };
        assert_eq!(
            read_stamp(&place).unwrap(),
            Some(MountStamp { time: 42, count: 7 })
        );
    }

    #[test]
    fn the_serial_console_counts_a_login_prompt_or_the_text_asked_for() {
        assert_eq!(serial_sign("web01 login: ", None), Some("login:"));
        assert_eq!(serial_sign("Booting", None), None);
        assert_eq!(
            serial_sign("system up", Some("system up")),
            Some("system up")
        );
        assert_eq!(serial_sign("web01 login:", Some("system up")), None);
    }
}

#[cfg(test)]
mod outside_tests {
    use super::*;
    use std::process::Command;

    fn run(cmd: &mut Command) {
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A GPT image made by sfdisk, with GRUB's signature in the MBR, an empty BIOS boot
    /// partition and an ESP (mkfs.vfat, mtools) holding the fallback loader.
    #[test]
    fn the_outside_view_names_what_each_boot_path_holds() {
        let tools = ["sfdisk", "mkfs.vfat", "mmd", "mcopy", "mdir"];
        if tools.iter().any(|t| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .output()
                .is_ok_and(|o| o.status.success())
        }) {
            // The tools tier: scripts/setup installs them; CI runs with them.
            assert!(std::env::var("CI").is_err(), "{tools:?} are needed");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let image = d.path().join("disk.img");
        File::create(&image).unwrap().set_len(64 << 20).unwrap();
        let mut sfdisk = Command::new("sfdisk");
        sfdisk.arg(&image).stdin(std::process::Stdio::piped());
        let mut child = sfdisk.stdout(std::process::Stdio::null()).spawn().unwrap();
        std::io::Write::write_all(
            child.stdin.as_mut().unwrap(),
            b"label: gpt\nstart=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649\n\
              size=40MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n",
        )
        .unwrap();
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success());
        let esp = d.path().join("esp.img");
        File::create(&esp).unwrap().set_len(40 << 20).unwrap();
        run(Command::new("mkfs.vfat").arg(&esp));
        let loader = d.path().join("BOOTX64.EFI");
        std::fs::write(&loader, b"MZ").unwrap();
        run(Command::new("mmd")
            .arg("-i")
            .arg(&esp)
            .args(["::/EFI", "::/EFI/BOOT"]));
        run(Command::new("mcopy")
            .arg("-i")
            .arg(&esp)
            .arg(&loader)
            .arg("::/EFI/BOOT/BOOTX64.EFI"));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&image)
            .unwrap();
        f.seek(SeekFrom::Start(4096 * 512)).unwrap();
        std::io::Write::write_all(&mut f, &std::fs::read(&esp).unwrap()).unwrap();
        f.seek(SeekFrom::Start(0x180)).unwrap();
        std::io::Write::write_all(&mut f, b"GRUB").unwrap();
        drop(f);
        let view = outside_view(std::slice::from_ref(&image));
        assert_eq!(
            view,
            [format!(
                "disk 1 ({}): MBR boot code: GRUB; BIOS boot partition 1: empty; EFI System \
                 Partition 2: EFI/BOOT/BOOTX64.EFI",
                image.display()
            )]
        );
    }
}
