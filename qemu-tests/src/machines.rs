//! Source systems for restore rehearsals: small Linux machines built on loop disks that
//! boot by themselves, so a rehearsal can back one up, restore it onto a blank disk and
//! prove the restored disk boots too.
//!
//! Two machines cover the two boot modes and both partition table kinds:
//!
//! - [`Kind::Uefi`]: a GPT disk with an ESP (FAT32; left unmounted, as this host's kernel
//!   has no vfat: written with mtools), `/` ext4, `/home` ext4, `/srv` xfs and swap. GRUB
//!   sits on the ESP at the removable path (EFI/BOOT/BOOTX64.EFI), so OVMF boots it with
//!   a blank variable store. Its prefix is `(,gpt2)/boot/grub`: grub-install names a
//!   /boot on the disk GRUB is loaded from by partition number, not by UUID.
//! - [`Kind::Bios`]: an MBR disk with `/boot` ext2 (a filesystem of its own, so GRUB's
//!   paths are relative to it), `/` ext4, an extended partition holding two logical ones
//!   (`/var` ext4 and swap). GRUB's core.img sits in the gap before the first partition
//!   (at 1 MiB); its prefix is /grub on partition 1, for the same reason.
//!
//! Each has the test kernel as /boot/vmlinuz, an initramfs as /boot/initrd.img, a
//! /boot/grub/grub.cfg on the serial console that finds the kernel's filesystem by label,
//! an /etc/fstab naming every filesystem (by LABEL=, UUID= and PARTUUID=, as real systems
//! mix them), and hard-case corpora (see the `corpus` crate) on the data filesystems. The
//! root also holds a working `grub-install` (/usr/sbin, with its libraries resolved from
//! the ELF headers by mkrescue's gatherer, its helpers and GRUB's platform folders): a
//! restore reinstalls the boot loader by running it in a chroot of the restored system,
//! and building the machine does exactly that, so the tool is proved to work (for UEFI
//! with a stand-in for the ESP: see `install_grub`).
//!
//! # The boot marker
//!
//! The machines have no distribution to boot into. Their initramfs is busybox (static)
//! and a script as /init: it mounts /proc, /sys and /dev, loads virtio_pci and virtio_blk
//! with their dependencies, waits up to 10 s for the filesystem labelled as the root,
//! mounts it read-write, writes the date into [`BOOT_CHECK_FILE`] at the top of that
//! filesystem (the top of `/`, not /var/log: /var is a filesystem of its own on the BIOS
//! machine, and /init mounts only the root), syncs, checks /proc/mounts says `rw`, and
//! only then prints one line on the console, [`marker_line`]:
//! `boot-check: restored system up: root LABEL=<label> mounted read-write`. Then it
//! unmounts and powers off, so QEMU exits. Any failure prints `boot-check: FAILED: why`
//! and powers off too, so a broken boot never waits for a timeout.
//!
//! The caller holds [`host_tests::host_lock`] while a machine's loop disk exists, as
//! every test that adds loop devices does; [`build`] asks for it to be shown.

use anyhow::{bail, ensure, Context};
use host_tests::{blkid_probe, command, mkfs, output, HostLock, LoopDisk, MountedBelow, Mounts};
use mkrescue::gather::compress::read_decompressed;
use mkrescue::gather::elf;
use mkrescue::gather::modules::{modinfo_values, module_stem, normalize_name};
use mkrescue::gather::tools::gather_tools;
use mkrescue::initramfs::tree::{Kind as TreeKind, Source, Tree};
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Firmware;

/// The start of the line a machine's /init prints once its root is mounted read-write.
pub const BOOT_MARKER: &str = "boot-check: restored system up";

/// The file /init writes (the date, UTC) at the top of the root filesystem.
pub const BOOT_CHECK_FILE: &str = "boot-check";

/// The modules /init loads to see a virtio disk (their dependencies come first).
const BOOT_MODULES: &[&str] = &["virtio_pci", "virtio_blk"];

const MIB: u64 = 1 << 20;

/// The whole line /init prints for a root filesystem labelled `label`.
pub fn marker_line(label: &str) -> String {
    format!("{BOOT_MARKER}: root LABEL={label} mounted read-write")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// GPT, ESP, GRUB for x86_64-efi; boots under OVMF.
    Uefi,
    /// MBR with logical partitions, GRUB for i386-pc; boots under SeaBIOS.
    Bios,
}

impl Kind {
    pub fn firmware(self) -> Firmware {
        match self {
            Kind::Uefi => Firmware::Uefi,
            Kind::Bios => Firmware::Bios,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Uefi => "uefi",
            Kind::Bios => "bios",
        }
    }

    /// The label of the root filesystem (what the kernel's root= and /init look for).
    pub fn root_label(self) -> &'static str {
        match self {
            Kind::Uefi => "uefi-root",
            Kind::Bios => "bios-root",
        }
    }
}

#[derive(Debug, Clone)]
pub struct MachineOptions {
    /// Bytes of ordinary file content in each corpus (`corpus::Options::bulk_bytes`); the
    /// data filesystems grow with it.
    pub corpus_bytes: u64,
    /// One file of this size in each corpus, if given (`corpus::Options::big_file`).
    pub big_file: Option<u64>,
    /// Seed of the first corpus; the next ones use the following numbers.
    pub seed: u64,
    /// A kernel directory as [`crate::test_kernel`] gives (vmlinuz, modules/, release);
    /// None: the test kernel.
    pub kernel: Option<PathBuf>,
}

impl Default for MachineOptions {
    fn default() -> Self {
        MachineOptions {
            corpus_bytes: 2 * MIB,
            big_file: None,
            seed: 1,
            kernel: None,
        }
    }
}

/// One filesystem (or swap) of a machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Partition number on the machine's disk.
    pub number: u32,
    /// "/", "/home", "/boot/efi"..., or "swap".
    pub mount_point: String,
    /// "ext4", "ext2", "xfs", "vfat", "swap".
    pub fs_type: String,
    pub label: Option<String>,
    pub uuid: String,
    /// The GPT partition GUID, or the MBR's "<disk id>-<number>".
    pub partuuid: String,
}

/// A corpus made on a machine: `dir` relative to the root, made with `options` (so it
/// can be made again elsewhere, or compared with `corpus::compare`).
#[derive(Debug, Clone)]
pub struct Corpus {
    pub dir: PathBuf,
    pub options: corpus::Options,
}

/// A machine on a loop disk, mounted under its root directory. Dropping it unmounts the
/// filesystems and then detaches the loop disk; the image file stays (in the caller's
/// work directory).
#[derive(Debug)]
pub struct Machine {
    // Declared (so dropped) before the disk: unmount, then detach.
    mounts: Option<Mounts>,
    disk: Option<LoopDisk>,
    device: String,
    kind: Kind,
    root: PathBuf,
    image: PathBuf,
    volumes: Vec<Volume>,
    corpora: Vec<Corpus>,
    release: String,
}

impl Machine {
    /// The mounted source tree (for `mkrescue create --root`). Empty once unmounted.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The loop device ("/dev/loopN"); it no longer exists after [`Machine::detach`].
    pub fn disk_device(&self) -> &str {
        &self.device
    }

    /// "/dev/loopNpM" for partition `number`.
    pub fn partition_device(&self, number: u32) -> String {
        format!("{}p{number}", self.device)
    }

    /// The disk image file.
    pub fn image(&self) -> &Path {
        &self.image
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn firmware(&self) -> Firmware {
        self.kind.firmware()
    }

    pub fn root_label(&self) -> &str {
        self.kind.root_label()
    }

    /// The line /init prints when this machine (or its restored copy) has booted.
    pub fn marker_line(&self) -> String {
        marker_line(self.root_label())
    }

    /// The kernel release the machine boots.
    pub fn release(&self) -> &str {
        &self.release
    }

    /// Every filesystem and swap, in partition order.
    pub fn volumes(&self) -> &[Volume] {
        &self.volumes
    }

    /// The volume mounted at `mount_point` ("/", "/home", "swap"...).
    pub fn volume(&self, mount_point: &str) -> Option<&Volume> {
        self.volumes.iter().find(|v| v.mount_point == mount_point)
    }

    pub fn corpora(&self) -> &[Corpus] {
        &self.corpora
    }

    pub fn is_mounted(&self) -> bool {
        self.mounts.is_some()
    }

    /// Syncs and unmounts the filesystems; the loop disk stays attached.
    pub fn unmount(&mut self) {
        sync();
        self.mounts = None;
    }

    /// Unmounts and detaches the loop disk, so the image can be booted (or copied) with no
    /// stale cache on the host side. The image file stays.
    pub fn detach(&mut self) {
        self.unmount();
        self.disk = None;
    }
}

/// Builds a machine of `kind` in `work`: the image `<work>/<kind>.img`, mounted at
/// `<work>/<kind>-root`. `_lock` shows the caller holds the host lock.
pub fn build(
    kind: Kind,
    work: &Path,
    opts: &MachineOptions,
    _lock: &HostLock,
) -> anyhow::Result<Machine> {
    let kernel = match &opts.kernel {
        Some(k) => k.clone(),
        None => crate::test_kernel()?,
    };
    let release = fs::read_to_string(kernel.join("release"))
        .with_context(|| format!("reading {}/release", kernel.display()))?
        .trim()
        .to_string();
    let layout = Layout::new(kind, opts);
    let image = work.join(format!("{}.img", kind.name()));
    let root = work.join(format!("{}-root", kind.name()));

    // Locals drop in reverse order on an error: the mounts go before the disk.
    let mut disk = LoopDisk::create(&image, layout.disk_bytes());
    disk.partition(&layout.sfdisk_script());
    let device = disk.device().to_string();
    let part = |n: u32| format!("{device}p{n}");

    let mut volumes = Vec::new();
    for p in &layout.parts {
        let Some(fs_type) = p.fs_type else { continue };
        let dev = part(p.number);
        let mut args: Vec<&str> = Vec::new();
        match (fs_type, p.label) {
            ("vfat", Some(l)) => args.extend(["-F", "32", "-n", l]),
            (_, Some(l)) => args.extend(["-L", l]),
            _ => {}
        }
        mkfs(fs_type, &dev, &args);
        let id = blkid_probe(&dev);
        volumes.push(Volume {
            number: p.number,
            mount_point: p.mount_point.to_string(),
            fs_type: fs_type.to_string(),
            label: p.label.map(str::to_string),
            uuid: id
                .get("UUID")
                .with_context(|| format!("blkid shows no UUID on {dev}: {id:?}"))?
                .clone(),
            partuuid: id
                .get("PART_ENTRY_UUID")
                .with_context(|| format!("blkid shows no partition UUID on {dev}: {id:?}"))?
                .clone(),
        });
    }

    let mut mounts = Mounts::new();
    // Parents before children; the ESP stays unmounted (no vfat in this host's kernel).
    let mut mounted: Vec<&Volume> = volumes
        .iter()
        .filter(|v| v.mount_point.starts_with('/') && v.fs_type != "vfat")
        .collect();
    mounted.sort_by_key(|v| v.mount_point.len());
    for v in &mounted {
        mounts.mount(&part(v.number), &under(&root, &v.mount_point), None);
    }

    // The gathered tree first: it makes /bin, /sbin, /lib symlinks into /usr as the host
    // has them, which must not already be directories.
    install_grub_install(&root)?;
    for dir in [
        "dev", "proc", "sys", "run", "etc", "var/log", "home", "srv", "root",
    ] {
        fs::create_dir_all(root.join(dir))
            .with_context(|| format!("creating {}/{dir}", root.display()))?;
    }
    let tmp = root.join("tmp");
    fs::create_dir_all(&tmp).context("creating /tmp")?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o1777)).context("chmod /tmp")?;
    if kind == Kind::Uefi {
        fs::create_dir_all(root.join("boot/efi")).context("creating /boot/efi")?;
    }

    let boot = root.join("boot");
    fs::copy(kernel.join("vmlinuz"), boot.join("vmlinuz"))
        .with_context(|| format!("copying {}/vmlinuz", kernel.display()))?;
    write_initramfs(
        &kernel.join("modules"),
        &release,
        kind.root_label(),
        &boot.join("initrd.img"),
    )?;
    write(&boot.join("grub/grub.cfg"), &grub_cfg(kind))?;
    write(&root.join("etc/fstab"), &fstab(&volumes, &layout))?;
    write(
        &root.join("etc/hostname"),
        &format!("{}-machine\n", kind.name()),
    )?;

    let mut corpora = Vec::new();
    for (i, dir) in layout.corpus_dirs.iter().enumerate() {
        let options = corpus::Options {
            bulk_bytes: opts.corpus_bytes,
            big_file: opts.big_file,
            seed: opts.seed + i as u64,
        };
        let at = root.join(dir);
        fs::create_dir_all(&at).with_context(|| format!("creating {}", at.display()))?;
        corpus::generate(&at, &options)
            .with_context(|| format!("making the corpus in {}", at.display()))?;
        corpora.push(Corpus {
            dir: PathBuf::from(dir),
            options,
        });
    }

    install_grub(kind, &root, &device, &part(1))?;
    sync();

    Ok(Machine {
        mounts: Some(mounts),
        disk: Some(disk),
        device,
        kind,
        root,
        image,
        volumes,
        corpora,
        release,
    })
}

/// `mount_point` (absolute) under `root`.
fn under(root: &Path, mount_point: &str) -> PathBuf {
    root.join(mount_point.trim_start_matches('/'))
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn sync() {
    // A sync that fails leaves nothing to undo; the next read shows it.
    let _ = output(&mut command("sync"));
}

/// Runs `cmd`; its stdout, or an error with its status and output.
fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = output(cmd);
    if !out.success() {
        bail!("{}", out.report());
    }
    Ok(out.stdout)
}

/// One partition of a machine's layout.
#[derive(Debug)]
struct Part {
    number: u32,
    /// sfdisk's line for it, without the start (they follow each other from 1 MiB).
    line: String,
    size_mib: u64,
    fs_type: Option<&'static str>,
    mount_point: &'static str,
    label: Option<&'static str>,
    /// How /etc/fstab names it.
    fstab_by: By,
}

#[derive(Debug, Clone, Copy)]
enum By {
    Label,
    Uuid,
    PartUuid,
    /// Not in fstab (the extended partition).
    None,
}

/// sfdisk's line for an MBR extended partition.
const EXTENDED: &str = "type=5";

#[derive(Debug)]
struct Layout {
    label: &'static str,
    parts: Vec<Part>,
    /// Directories under the root for the corpora (each on a data filesystem).
    corpus_dirs: Vec<&'static str>,
}

impl Layout {
    fn new(kind: Kind, opts: &MachineOptions) -> Layout {
        // Room for a corpus: twice its content (directories, metadata, ext4's reserve)
        // plus a fixed margin.
        let data_mib = 64 + (2 * opts.corpus_bytes + opts.big_file.unwrap_or(0)).div_ceil(MIB);
        let part = |number, line: &str, size_mib, fs_type, mount_point, label, by| Part {
            number,
            line: line.to_string(),
            size_mib,
            fs_type,
            mount_point,
            label,
            fstab_by: by,
        };
        match kind {
            Kind::Uefi => Layout {
                label: "gpt",
                parts: vec![
                    part(
                        1,
                        "type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"EFI System\"",
                        64,
                        Some("vfat"),
                        "/boot/efi",
                        Some("ESP"),
                        By::PartUuid,
                    ),
                    part(
                        2,
                        "type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=root",
                        256,
                        Some("ext4"),
                        "/",
                        Some("uefi-root"),
                        By::Label,
                    ),
                    part(
                        3,
                        "type=933AC7E1-2EB4-4F13-B844-0E14E2AEF915, name=home",
                        data_mib.max(96),
                        Some("ext4"),
                        "/home",
                        None,
                        By::Uuid,
                    ),
                    // xfsprogs 6.1 refuses filesystems under 300 MiB.
                    part(
                        4,
                        "type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=srv",
                        data_mib.max(320),
                        Some("xfs"),
                        "/srv",
                        Some("uefi-srv"),
                        By::Uuid,
                    ),
                    part(
                        5,
                        "type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=swap",
                        64,
                        Some("swap"),
                        "swap",
                        Some("uefi-swap"),
                        By::Label,
                    ),
                ],
                corpus_dirs: vec!["home/corpus", "srv/corpus"],
            },
            Kind::Bios => {
                let var_mib = data_mib.max(128);
                let swap_mib = 64;
                Layout {
                    label: "dos",
                    parts: vec![
                        part(
                            1,
                            "type=83, bootable",
                            64,
                            Some("ext2"),
                            "/boot",
                            Some("bios-boot"),
                            By::Uuid,
                        ),
                        part(
                            2,
                            "type=83",
                            256,
                            Some("ext4"),
                            "/",
                            Some("bios-root"),
                            By::Label,
                        ),
                        // The extended partition: its logical ones, each after a 1 MiB
                        // gap for its EBR.
                        part(
                            3,
                            EXTENDED,
                            var_mib + swap_mib + 2,
                            None,
                            "",
                            None,
                            By::None,
                        ),
                        part(5, "type=83", var_mib, Some("ext4"), "/var", None, By::Uuid),
                        part(
                            6,
                            "type=82",
                            swap_mib,
                            Some("swap"),
                            "swap",
                            Some("bios-swap"),
                            By::Uuid,
                        ),
                    ],
                    corpus_dirs: vec!["var/corpus"],
                }
            }
        }
    }

    fn sfdisk_script(&self) -> String {
        let mut s = format!("label: {}\n", self.label);
        for (i, p) in self.parts.iter().enumerate() {
            // The first partition at 1 MiB leaves GRUB's core.img its gap on MBR.
            let start = if i == 0 { "start=1MiB, " } else { "" };
            // The extended partition takes the rest of the disk: given a size, sfdisk
            // would put the next partitions after it as primaries.
            let size = if p.line == EXTENDED {
                String::new()
            } else {
                format!("size={}MiB, ", p.size_mib)
            };
            s.push_str(&format!("{start}{size}{}\n", p.line));
        }
        s
    }

    fn disk_bytes(&self) -> u64 {
        // MBR's logical partitions are inside the extended one: count the others, plus the
        // first MiB and one for GPT's backup header.
        let primaries: u64 = self
            .parts
            .iter()
            .filter(|p| self.label == "gpt" || p.number <= 4)
            .map(|p| p.size_mib)
            .sum();
        (primaries + 2) * MIB
    }
}

fn fstab(volumes: &[Volume], layout: &Layout) -> String {
    let mut s = String::from("# <file system>\t<mount point>\t<type>\t<options>\t<dump> <pass>\n");
    for v in volumes {
        let Some(p) = layout.parts.iter().find(|p| p.number == v.number) else {
            continue;
        };
        let spec = match (p.fstab_by, &v.label) {
            (By::Label, Some(l)) => format!("LABEL={l}"),
            (By::PartUuid, _) => format!("PARTUUID={}", v.partuuid),
            (By::None, _) => continue,
            _ => format!("UUID={}", v.uuid),
        };
        let (point, options, pass) = match (v.mount_point.as_str(), v.fs_type.as_str()) {
            ("swap", _) => ("none", "sw", 0),
            (_, "vfat") => (v.mount_point.as_str(), "umask=0077", 2),
            ("/", _) => ("/", "errors=remount-ro", 1),
            (m, _) => (m, "defaults", 2),
        };
        s.push_str(&format!(
            "{spec}\t{point}\t{}\t{options}\t0 {pass}\n",
            v.fs_type
        ));
    }
    s
}

/// GRUB's menu: the serial console, a short timeout, the kernel's filesystem found by its
/// label. On the BIOS machine that is /boot, so the paths are relative to it.
fn grub_cfg(kind: Kind) -> String {
    let (partmap, search, prefix) = match kind {
        Kind::Uefi => ("part_gpt", kind.root_label(), "/boot"),
        Kind::Bios => ("part_msdos", "bios-boot", ""),
    };
    let root = kind.root_label();
    format!(
        "serial --unit=0 --speed=115200\n\
         terminal_input serial console\n\
         terminal_output serial console\n\
         set timeout=1\n\
         set default=0\n\
         \n\
         menuentry \"{name} machine\" {{\n\
         \tinsmod {partmap}\n\
         \tinsmod ext2\n\
         \tsearch --no-floppy --label --set=root {search}\n\
         \tlinux {prefix}/vmlinuz root=LABEL={root} console=ttyS0,115200 rw\n\
         \tinitrd {prefix}/initrd.img\n\
         }}\n",
        name = kind.name()
    )
}

/// grub-install with its libraries, helpers and GRUB's folders, gathered from this host
/// as mkrescue gathers the rescue system's tools, written into `root`.
fn install_grub_install(root: &Path) -> anyhow::Result<()> {
    let mut tree = Tree::new();
    // udevadm: GRUB asks it where a partition starts (sysfs), and without it falls back
    // to HDIO_GETGEO, which loop devices do not answer.
    let report = gather_tools(Path::new("/"), &["grub-install", "udevadm"], &mut tree)
        .context("gathering grub-install")?;
    ensure!(
        report.missing.is_empty() || report.missing == ["efibootmgr"],
        "this host lacks {:?} (scripts/setup installs them)",
        report.missing
    );
    ensure!(
        report.unresolved.is_empty(),
        "libraries of grub-install not found: {:?}",
        report.unresolved
    );
    write_tree(&tree, root)?;
    // grub-install warns when it cannot list the translations.
    fs::create_dir_all(root.join("usr/share/locale")).context("creating /usr/share/locale")
}

/// Writes a gathered tree into a directory.
fn write_tree(tree: &Tree, root: &Path) -> anyhow::Result<()> {
    for (rel, entry) in tree.iter() {
        let dest = root.join(rel);
        let what = || format!("writing {}", dest.display());
        match &entry.kind {
            TreeKind::Dir => fs::create_dir_all(&dest).with_context(what)?,
            TreeKind::File(Source::Host(src)) => {
                fs::copy(src, &dest).with_context(what)?;
            }
            TreeKind::File(Source::Bytes(b)) => fs::write(&dest, b).with_context(what)?,
            TreeKind::Symlink(target) => {
                if fs::read_link(&dest).ok().as_ref() != Some(target) {
                    symlink(target, &dest).with_context(what)?;
                }
                continue;
            }
            TreeKind::CharDevice { .. } => bail!("{}: a device node in the tools", rel.display()),
        }
        fs::set_permissions(&dest, fs::Permissions::from_mode(entry.mode)).with_context(what)?;
    }
    Ok(())
}

/// Installs GRUB onto the machine's disk by running the root's own grub-install in a
/// chroot (with /dev, /proc, /sys bound), as a restore does.
///
/// UEFI: grub-install insists that `--efi-directory` is on a FAT filesystem, and this
/// host cannot mount one. GRUB finds a directory's device by the mount's source in
/// /proc/self/mountinfo, so a tmpfs whose source is the ESP's device stands in: GRUB
/// probes the real ESP (FAT), writes its files into the tmpfs, and mtools copies them
/// onto the ESP.
fn install_grub(kind: Kind, root: &Path, disk: &str, esp: &str) -> anyhow::Result<()> {
    let mut binds = Mounts::new();
    for dir in ["dev", "proc", "sys"] {
        binds.mount(&format!("/{dir}"), &root.join(dir), Some("bind"));
    }
    let stage = "/tmp/efi-stage";
    // Unmounts the stand-in ESP (if mounted) before the binds go.
    let _stage_mount = MountedBelow::new(&under(root, stage));
    let mut cmd = command("chroot");
    cmd.arg(root)
        .arg("/usr/sbin/grub-install")
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    match kind {
        Kind::Bios => {
            cmd.args(["--target=i386-pc", disk]);
        }
        Kind::Uefi => {
            let at = under(root, stage);
            fs::create_dir_all(&at).context("creating the EFI stage")?;
            run(command("mount")
                .args(["-t", "tmpfs", "-o", "size=64m", esp])
                .arg(&at))
            .context("mounting the stand-in ESP")?;
            cmd.args([
                "--target=x86_64-efi",
                &format!("--efi-directory={stage}"),
                "--boot-directory=/boot",
                "--removable",
                "--no-nvram",
            ]);
        }
    }
    run(&mut cmd).context("grub-install in the machine's chroot")?;
    if kind == Kind::Uefi {
        let efi = under(root, stage).join("EFI");
        ensure!(
            efi.join("BOOT/BOOTX64.EFI").is_file(),
            "grub-install left no EFI/BOOT/BOOTX64.EFI in {}",
            efi.display()
        );
        run(command("mcopy")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-s", "-i", esp])
            .arg(&efi)
            .arg("::/"))
        .context("copying GRUB onto the ESP")?;
    }
    drop(_stage_mount);
    drop(binds);
    if kind == Kind::Uefi {
        fs::remove_dir(under(root, stage)).context("removing the EFI stage's mount point")?;
    }
    Ok(())
}

/// The /init of a machine: see the module's documentation.
fn init_script(release: &str, modules: &[String], label: &str) -> String {
    let marker = marker_line(label);
    let modules = modules.join(" ");
    format!(
        r#"#!/bin/busybox sh
# Proves that the disk booted by itself: the root filesystem mounted read-write, a file
# written on it, one line on the console, then power off (QEMU exits).
/bin/busybox --install -s /bin
export PATH=/bin
fail() {{
    echo "boot-check: FAILED: $*" > /dev/console
    poweroff -f
    sleep 60
}}
mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"
mount -t devtmpfs devtmpfs /dev || fail "mount /dev"
for m in {modules}; do
    insmod /lib/modules/{release}/$m || fail "insmod $m"
done
dev=
i=0
while [ $i -lt 100 ]; do
    dev=$(findfs LABEL={label} 2>/dev/null) && break
    sleep 0.1
    i=$((i + 1))
done
[ -n "$dev" ] || fail "no filesystem labelled {label} after 10 s"
mount -o rw "$dev" /newroot || fail "mount $dev"
date -u +%Y-%m-%dT%H:%M:%SZ > /newroot/{check} || fail "writing /{check}"
sync
grep " /newroot " /proc/mounts | grep -q " rw[, ]" || fail "$dev is not mounted read-write"
echo "{marker}" > /dev/console
umount /newroot || fail "umount $dev"
poweroff -f
sleep 60
"#,
        check = BOOT_CHECK_FILE,
    )
}

/// Writes the initramfs (gzip'd newc) for a machine whose root is labelled `label`.
fn write_initramfs(
    modules_dir: &Path,
    release: &str,
    label: &str,
    out: &Path,
) -> anyhow::Result<()> {
    let busybox = host_tests::find_tool("busybox")
        .context("busybox not found (scripts/setup installs busybox-static)")?;
    ensure!(
        elf::is_static(&busybox).with_context(|| format!("reading {}", busybox.display()))?,
        "{} is not static (install busybox-static, see scripts/setup)",
        busybox.display()
    );
    let mut tree = Tree::new();
    for dir in ["/bin", "/dev", "/proc", "/sys", "/newroot"] {
        tree.dir(dir, 0o755)?;
    }
    // The kernel opens it for /init's output before devtmpfs is mounted.
    tree.char_device("/dev/console", 5, 1, 0o600)?;
    tree.host_file("/bin/busybox", &busybox, 0o755)?;
    let mut order = Vec::new();
    for (rel, data) in module_load_order(modules_dir, BOOT_MODULES)? {
        tree.bytes(format!("/lib/modules/{release}/{rel}"), data, 0o644)?;
        order.push(rel);
    }
    tree.bytes("/init", init_script(release, &order, label), 0o755)?;
    let mut file = fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    mkrescue::initramfs::write_gzip(&tree, &mut file, 0, 6)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

/// `wanted` and their dependencies (from each module's `.modinfo` `depends=`, as no
/// modules.dep comes with an unpacked kernel), each after what it needs: (path relative
/// to `modules_dir` without a compression suffix, the module's bytes unpacked).
fn module_load_order(
    modules_dir: &Path,
    wanted: &[&str],
) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut index = BTreeMap::new();
    index_modules(modules_dir, modules_dir, &mut index)?;
    let builtin = fs::read_to_string(modules_dir.join("modules.builtin")).unwrap_or_default();
    let builtin: HashSet<String> = builtin
        .lines()
        .filter_map(|l| l.rsplit('/').next().and_then(module_stem))
        .map(normalize_name)
        .collect();

    fn visit(
        name: &str,
        index: &BTreeMap<String, (String, PathBuf)>,
        builtin: &HashSet<String>,
        visiting: &mut HashSet<String>,
        out: &mut Vec<(String, Vec<u8>)>,
        done: &mut HashSet<String>,
    ) -> anyhow::Result<()> {
        let name = normalize_name(name);
        if done.contains(&name) || builtin.contains(&name) {
            return Ok(());
        }
        ensure!(
            visiting.insert(name.clone()),
            "modules depend on each other in a loop at {name}"
        );
        let (rel, path) = index
            .get(&name)
            .with_context(|| format!("module {name} is neither a .ko file nor built in"))?;
        let data = read_decompressed(path)?;
        for deps in modinfo_values(&data, "depends") {
            for dep in deps.split(',').filter(|d| !d.is_empty()) {
                visit(dep, index, builtin, visiting, out, done)?;
            }
        }
        done.insert(name);
        out.push((rel.clone(), data));
        Ok(())
    }

    let mut out = Vec::new();
    let (mut visiting, mut done) = (HashSet::new(), HashSet::new());
    for w in wanted {
        visit(w, &index, &builtin, &mut visiting, &mut out, &mut done)?;
    }
    Ok(out)
}

/// Module name -> (its plain relative path "kernel/.../x.ko", its file).
fn index_modules(
    base: &Path,
    dir: &Path,
    index: &mut BTreeMap<String, (String, PathBuf)>,
) -> anyhow::Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            index_modules(base, &path, index)?;
            continue;
        }
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = module_stem(&file_name) else {
            continue;
        };
        let rel = path
            .parent()
            .and_then(|p| p.strip_prefix(base).ok())
            .map(|p| p.join(format!("{stem}.ko")))
            .with_context(|| format!("{} is outside {}", path.display(), base.display()))?;
        index.insert(
            normalize_name(stem),
            (rel.to_string_lossy().into_owned(), path),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_fit_their_disks() {
        for kind in [Kind::Uefi, Kind::Bios] {
            let l = Layout::new(kind, &MachineOptions::default());
            let script = l.sfdisk_script();
            assert!(
                script.lines().nth(1).unwrap().starts_with("start=1MiB"),
                "{script}"
            );
            assert!(l.disk_bytes() <= 1 << 30, "{kind:?}: {}", l.disk_bytes());
        }
        let bios = Layout::new(Kind::Bios, &MachineOptions::default());
        let ext = bios.parts.iter().find(|p| p.number == 3).unwrap();
        let logical: u64 = bios
            .parts
            .iter()
            .filter(|p| p.number > 4)
            .map(|p| p.size_mib)
            .sum();
        assert!(ext.size_mib >= logical + 2);
    }

    #[test]
    fn data_filesystems_grow_with_the_corpus() {
        let opts = MachineOptions {
            corpus_bytes: 500 * MIB,
            big_file: Some(100 * MIB),
            ..MachineOptions::default()
        };
        let uefi = Layout::new(Kind::Uefi, &opts);
        let home = uefi
            .parts
            .iter()
            .find(|p| p.mount_point == "/home")
            .unwrap();
        assert_eq!(home.size_mib, 64 + 1000 + 100);
        let bios = Layout::new(Kind::Bios, &opts);
        let var = bios.parts.iter().find(|p| p.mount_point == "/var").unwrap();
        assert_eq!(var.size_mib, 64 + 1000 + 100);
        assert!(bios.disk_bytes() > (1164 + 64 + 256 + 64) * MIB);
    }

    #[test]
    fn grub_paths_are_relative_to_the_kernels_filesystem() {
        let bios = grub_cfg(Kind::Bios);
        assert!(
            bios.contains("search --no-floppy --label --set=root bios-boot"),
            "{bios}"
        );
        assert!(bios.contains(
            "linux /vmlinuz root=LABEL=bios-root console=ttyS0,115200 rw\n\tinitrd /initrd.img"
        ));
        let uefi = grub_cfg(Kind::Uefi);
        assert!(
            uefi.contains("linux /boot/vmlinuz root=LABEL=uefi-root"),
            "{uefi}"
        );
        assert!(uefi.contains("serial --unit=0 --speed=115200\nterminal_input serial console\n"));
    }

    #[test]
    fn fstab_names_each_volume_its_way() {
        let layout = Layout::new(Kind::Uefi, &MachineOptions::default());
        let v = |number, mount: &str, fs: &str, label: Option<&str>| Volume {
            number,
            mount_point: mount.into(),
            fs_type: fs.into(),
            label: label.map(Into::into),
            uuid: format!("uuid-{number}"),
            partuuid: format!("partuuid-{number}"),
        };
        let text = fstab(
            &[
                v(1, "/boot/efi", "vfat", Some("ESP")),
                v(2, "/", "ext4", Some("uefi-root")),
                v(3, "/home", "ext4", None),
                v(5, "swap", "swap", Some("uefi-swap")),
            ],
            &layout,
        );
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                "PARTUUID=partuuid-1\t/boot/efi\tvfat\tumask=0077\t0 2",
                "LABEL=uefi-root\t/\text4\terrors=remount-ro\t0 1",
                "UUID=uuid-3\t/home\text4\tdefaults\t0 2",
                "LABEL=uefi-swap\tnone\tswap\tsw\t0 0",
            ]
        );
    }

    #[test]
    fn the_marker_is_printed_once_after_the_write() {
        let s = init_script("6.1.0-x", &["a/b.ko".into()], "r");
        assert_eq!(s.matches(BOOT_MARKER).count(), 1);
        assert!(s.find("date -u").unwrap() < s.find(BOOT_MARKER).unwrap());
        assert!(s.contains(&marker_line("r")));
        assert!(s.contains("insmod /lib/modules/6.1.0-x/$m"));
    }
}
