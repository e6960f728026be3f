//! A real distribution as a source machine: Debian 12 (bookworm) built from Debian's
//! packages by mmdebstrap, on one GPT disk image that boots by itself under OVMF and under
//! SeaBIOS to a login prompt on the serial console.
//!
//! The disk ([`LAYOUT`]): a BIOS boot partition (GRUB's core.img for SeaBIOS, MBR boot
//! code in front), an ESP (FAT32, /boot/efi, GRUB at the removable path
//! EFI/BOOT/BOOTX64.EFI for OVMF with a blank variable store), ext4 `/` labelled
//! [`ROOT_LABEL`], ext4 `/home`, xfs `/srv` and swap, named in /etc/fstab by UUID and
//! LABEL. The system: systemd, udev and D-Bus, Debian's cloud kernel with its initramfs,
//! GRUB for both firmwares, the tools of the filesystems, and what `mkrescue create`
//! gathers at run time (isolinux, GRUB's EFI modules, sfdisk, efibootmgr...). GRUB and the
//! kernel talk on ttyS0 (115200), a getty logs in there, root's password is
//! [`ROOT_PASSWORD`].
//!
//! Building takes minutes, so the image is built once and kept in the workspace's
//! `.cache/debian-<key>/` ([`machine`]), `<key>` being a hash of everything the build is
//! made of (suite, packages, layout, the configuration it writes, [`BUILD_VERSION`]). A
//! build happens under `.cache/debian-<key>.partial` and is renamed into place only when
//! complete, so a build that was interrupted is never used; one process builds at a time
//! (a lock file), others wait for it and use its result.
//!
//! The build needs root, loop devices, mmdebstrap and Debian's package archive; this
//! host's kernel need not mount vfat (the ESP is written with mtools). Tests boot copies
//! of the image ([`Machine::copy_image`]), never the cached one, and drive them with
//! [`guest::Guest`].

pub mod guest;
pub mod tree_diff;

use anyhow::{bail, ensure, Context};
use host_tests::{blkid_probe, command, mkfs, output, LoopDisk, MountedBelow, Mounts};
use serde::{Deserialize, Serialize};
use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The Debian release the machine runs.
pub const SUITE: &str = "bookworm";

pub const HOSTNAME: &str = "debian-machine";

/// root's password on the machine (and on its restored copies).
pub const ROOT_PASSWORD: &str = "rescue";

/// The label of the root filesystem.
pub const ROOT_LABEL: &str = "debian-root";

/// Bump when the build changes in a way the hashed inputs below do not show.
pub const BUILD_VERSION: u32 = 1;

/// Packages on top of mmdebstrap's minbase variant (Essential packages and apt).
const PACKAGES: &[&str] = &[
    // the init system, the device manager and the message bus of a Debian server
    "systemd",
    "systemd-sysv",
    "udev",
    "dbus",
    // chpasswd, for root's password
    "passwd",
    // Debian's cloud kernel (virtio drivers, the same flavour as the test kernel) and,
    // through its dependencies, initramfs-tools
    "linux-image-cloud-amd64",
    // GRUB for both firmwares: grub-install and grub-mkconfig, the i386-pc and x86_64-efi
    // modules (the restore reinstalls GRUB with these too)
    "grub2-common",
    "grub-pc-bin",
    "grub-efi-amd64-bin",
    "efibootmgr",
    "kmod",
    // the filesystems of the layout, and sfdisk
    "e2fsprogs",
    "xfsprogs",
    "dosfstools",
    "fdisk",
    // what mkrescue create needs to make media: ISOLINUX for BIOS booting
    "isolinux",
    "syslinux-common",
    // a file with a capability in the tree (/usr/bin/ping: cap_net_raw)
    "iputils-ping",
];

/// Runs after the Essential packages and before the others: with no resume device
/// configured, the kernel's initramfs would take the build host's swap (if it has one)
/// as where to resume from, and wait for it at every boot.
const ESSENTIAL_HOOK: &str = "mkdir -p \"$1/etc/initramfs-tools/conf.d\" && \
     echo RESUME=none > \"$1/etc/initramfs-tools/conf.d/resume\"";

/// GRUB's settings for grub-mkconfig: the menu and the kernel on the serial console.
const GRUB_DEFAULTS: &str = "GRUB_DEFAULT=0\n\
GRUB_TIMEOUT=1\n\
GRUB_DISTRIBUTOR=Debian\n\
GRUB_CMDLINE_LINUX_DEFAULT=\"\"\n\
GRUB_CMDLINE_LINUX=\"console=ttyS0,115200\"\n\
GRUB_TERMINAL=\"serial console\"\n\
GRUB_SERIAL_COMMAND=\"serial --unit=0 --speed=115200\"\n\
GRUB_DISABLE_OS_PROBER=true\n";

/// The disk image's size (sparse); the partitions leave the end of it free.
pub const DISK_BYTES: u64 = 4 << 30;

/// One partition of the machine's disk.
#[derive(Debug, Clone, Copy)]
pub struct PartSpec {
    pub number: u32,
    pub size_mib: u64,
    /// The GPT partition type.
    pub type_guid: &'static str,
    /// The GPT partition name.
    pub name: &'static str,
    /// "vfat", "ext4", "xfs", "swap"; None: no filesystem (the BIOS boot partition).
    pub fs_type: Option<&'static str>,
    /// Where fstab mounts it ("swap" for swap).
    pub mount_point: Option<&'static str>,
    pub label: Option<&'static str>,
    /// How fstab names it.
    pub fstab_by_label: bool,
}

/// The machine's disk, in partition order.
pub const LAYOUT: &[PartSpec] = &[
    PartSpec {
        number: 1,
        size_mib: 1,
        type_guid: "21686148-6449-6E6F-744E-656564454649",
        name: "BIOS boot",
        fs_type: None,
        mount_point: None,
        label: None,
        fstab_by_label: false,
    },
    PartSpec {
        number: 2,
        size_mib: 64,
        type_guid: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
        name: "EFI System",
        fs_type: Some("vfat"),
        mount_point: Some("/boot/efi"),
        label: Some("ESP"),
        fstab_by_label: false,
    },
    PartSpec {
        number: 3,
        size_mib: 2560,
        type_guid: "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
        name: "root",
        fs_type: Some("ext4"),
        mount_point: Some("/"),
        label: Some(ROOT_LABEL),
        fstab_by_label: true,
    },
    PartSpec {
        number: 4,
        size_mib: 256,
        type_guid: "933AC7E1-2EB4-4F13-B844-0E14E2AEF915",
        name: "home",
        fs_type: Some("ext4"),
        mount_point: Some("/home"),
        label: None,
        fstab_by_label: false,
    },
    // mkfs.xfs (xfsprogs 6.1) refuses less than 300 MiB.
    PartSpec {
        number: 5,
        size_mib: 320,
        type_guid: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
        name: "srv",
        fs_type: Some("xfs"),
        mount_point: Some("/srv"),
        label: Some("debian-srv"),
        fstab_by_label: false,
    },
    PartSpec {
        number: 6,
        size_mib: 256,
        type_guid: "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",
        name: "swap",
        fs_type: Some("swap"),
        mount_point: Some("swap"),
        label: Some("debian-swap"),
        fstab_by_label: false,
    },
];

/// One filesystem (or swap) of the built machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub number: u32,
    /// "/", "/home", "/boot/efi"..., or "swap".
    pub mount_point: String,
    pub fs_type: String,
    pub label: Option<String>,
    pub uuid: String,
}

/// What a build made, kept beside the image as machine.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Facts {
    pub key: String,
    /// The kernel release installed.
    pub release: String,
    pub volumes: Vec<Volume>,
    /// Wall time of the build.
    pub build_seconds: f64,
}

/// The cached machine: its disk image (never booted itself) and what the build made.
#[derive(Debug)]
pub struct Machine {
    dir: PathBuf,
    facts: Facts,
}

impl Machine {
    /// The cached image. Boot a copy ([`Machine::copy_image`]), never this.
    pub fn image(&self) -> PathBuf {
        self.dir.join("disk.img")
    }

    pub fn facts(&self) -> &Facts {
        &self.facts
    }

    /// The volume mounted at `mount_point` ("/", "/home", "swap"...).
    pub fn volume(&self, mount_point: &str) -> Option<&Volume> {
        self.facts
            .volumes
            .iter()
            .find(|v| v.mount_point == mount_point)
    }

    /// Copies the image to `to` (sparse), to boot or change.
    pub fn copy_image(&self, to: &Path) -> anyhow::Result<()> {
        run(command("cp")
            .arg("--sparse=always")
            .arg(self.image())
            .arg(to))
        .with_context(|| format!("copying the Debian machine's image to {}", to.display()))?;
        Ok(())
    }
}

/// The hash of everything a build is made of: the cache key.
pub fn cache_key() -> String {
    let mut h = blake3::Hasher::new();
    let mut add = |s: &str| {
        h.update(s.as_bytes());
        h.update(b"\0");
    };
    add(&BUILD_VERSION.to_string());
    add(SUITE);
    PACKAGES.iter().for_each(|p| add(p));
    add(ESSENTIAL_HOOK);
    add(GRUB_DEFAULTS);
    add(HOSTNAME);
    add(ROOT_PASSWORD);
    add(&format!("{LAYOUT:?}{DISK_BYTES}"));
    h.finalize().to_hex()[..16].to_string()
}

/// The workspace's cache directory (gitignored).
fn cache_dir() -> PathBuf {
    host_tests::workspace_root().join(".cache")
}

/// The machine, from the cache or built now (and cached). Needs root, loop devices and
/// mmdebstrap with Debian's archive reachable; while building it holds the host lock
/// ([`host_tests::host_lock`]) for as long as its loop disk exists.
pub fn machine() -> anyhow::Result<Machine> {
    let key = cache_key();
    let cache = cache_dir();
    let dir = cache.join(format!("debian-{key}"));
    if let Some(m) = load(&dir)? {
        return Ok(m);
    }
    fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
    // One builder at a time; the others find its result when they get the lock.
    let _lock = FileLock::take(&cache.join("debian.lock"))?;
    if let Some(m) = load(&dir)? {
        return Ok(m);
    }
    let partial = cache.join(format!("debian-{key}.partial"));
    remove_partial(&partial)?;
    fs::create_dir_all(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let facts = build(&key, &partial)
        .with_context(|| format!("building the Debian machine in {}", partial.display()))?;
    write_json(&partial.join("machine.json"), &facts)?;
    fs::rename(&partial, &dir)
        .with_context(|| format!("renaming {} to {}", partial.display(), dir.display()))?;
    remove_other_builds(&cache, &key);
    eprintln!(
        "built the Debian machine in {:.0} s: {}",
        facts.build_seconds,
        dir.display()
    );
    Ok(Machine { dir, facts })
}

/// A complete build in `dir`, if there is one.
fn load(dir: &Path) -> anyhow::Result<Option<Machine>> {
    let json = dir.join("machine.json");
    if !json.is_file() {
        return Ok(None);
    }
    let facts: Facts = read_json(&json)?;
    Ok(Some(Machine {
        dir: dir.to_path_buf(),
        facts,
    }))
}

/// Removes an interrupted build: whatever is still mounted below it first, so nothing
/// is removed through a mount.
fn remove_partial(partial: &Path) -> anyhow::Result<()> {
    if !partial.exists() {
        return Ok(());
    }
    drop(MountedBelow::new(partial));
    fs::remove_dir_all(partial)
        .with_context(|| format!("removing the interrupted build {}", partial.display()))
}

/// Builds of other keys are out of date: removed, so the cache does not grow.
fn remove_other_builds(cache: &Path, key: &str) {
    let Ok(entries) = fs::read_dir(cache) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let ours = name == format!("debian-{key}");
        if name.starts_with("debian-") && !name.ends_with(".lock") && !ours && e.path().is_dir() {
            if let Err(err) = fs::remove_dir_all(e.path()) {
                eprintln!("warning: cannot remove the old build {name}: {err}");
            }
        }
    }
}

/// Builds the machine into `dir`: `rootfs/` by mmdebstrap, then `disk.img`.
fn build(key: &str, dir: &Path) -> anyhow::Result<Facts> {
    let started = Instant::now();
    let rootfs = dir.join("rootfs");
    mmdebstrap(&rootfs, &dir.join("mmdebstrap.log"))?;
    configure(&rootfs)?;
    let release = kernel_release(&rootfs)?;
    let volumes = {
        let lock = host_tests::host_lock();
        let mnt = dir.join("mnt");
        let volumes = make_disk(&rootfs, &dir.join("disk.img"), &mnt)?;
        drop(lock);
        fs::remove_dir(&mnt).with_context(|| format!("removing {}", mnt.display()))?;
        volumes
    };
    fs::remove_dir_all(&rootfs).with_context(|| format!("removing {}", rootfs.display()))?;
    Ok(Facts {
        key: key.to_string(),
        release,
        volumes,
        build_seconds: started.elapsed().as_secs_f64(),
    })
}

/// mmdebstrap's minbase with [`PACKAGES`], from Debian's archive (with its updates and
/// security suites), into `rootfs`; its output goes to `log`.
fn mmdebstrap(rootfs: &Path, log: &Path) -> anyhow::Result<()> {
    let log_file = fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let status = command("mmdebstrap")
        .args(["--mode=root", "--variant=minbase", "--format=directory"])
        .arg(format!("--include={}", PACKAGES.join(",")))
        .arg(format!("--essential-hook={ESSENTIAL_HOOK}"))
        .args(["--aptopt=Acquire::Retries \"3\"", SUITE])
        .arg(rootfs)
        .stdin(std::process::Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .status()
        .context("running mmdebstrap (scripts/setup installs it)")?;
    if !status.success() {
        let text = fs::read_to_string(log).unwrap_or_default();
        bail!(
            "mmdebstrap failed ({status}); is Debian's archive reachable? Its log ({}) ends:\n{}",
            log.display(),
            crate::tail(&text, 30)
        );
    }
    Ok(())
}

/// The settings written into the root before it goes onto the disk: host name, GRUB's
/// defaults, root's password, the serial getty, a machine id (so no boot of a copy is a
/// "first boot").
fn configure(rootfs: &Path) -> anyhow::Result<()> {
    write(&rootfs.join("etc/hostname"), &format!("{HOSTNAME}\n"))?;
    write(&rootfs.join("etc/default/grub"), GRUB_DEFAULTS)?;
    let chpasswd = host_tests::output_with_stdin(
        command("chroot").arg(rootfs).arg("chpasswd"),
        Some(format!("root:{ROOT_PASSWORD}\n").as_bytes()),
    );
    ensure!(chpasswd.success(), "{}", chpasswd.report());
    chroot(
        rootfs,
        &["systemctl", "enable", "serial-getty@ttyS0.service"],
    )?;
    chroot(rootfs, &["systemd-machine-id-setup"])?;
    Ok(())
}

/// The release of the one kernel under /boot.
fn kernel_release(rootfs: &Path) -> anyhow::Result<String> {
    let boot = rootfs.join("boot");
    let mut releases: Vec<String> = fs::read_dir(&boot)
        .with_context(|| format!("listing {}", boot.display()))?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("vmlinuz-").map(str::to_string)
        })
        .collect();
    ensure!(
        releases.len() == 1,
        "expected one kernel in {}, found {releases:?}",
        boot.display()
    );
    Ok(releases.remove(0))
}

/// The partition table, the filesystems, the root copied in, fstab, GRUB for both
/// firmwares. The image is left detached.
fn make_disk(rootfs: &Path, image: &Path, mnt: &Path) -> anyhow::Result<Vec<Volume>> {
    // Locals drop in reverse: the mounts go before the disk.
    let mut disk = LoopDisk::create(image, DISK_BYTES);
    disk.partition(&sfdisk_script());
    let mut volumes = Vec::new();
    for p in LAYOUT {
        let (Some(fs_type), Some(mount_point)) = (p.fs_type, p.mount_point) else {
            continue;
        };
        let dev = disk.partition_path(p.number);
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
            mount_point: mount_point.to_string(),
            fs_type: fs_type.to_string(),
            label: p.label.map(str::to_string),
            uuid: id
                .get("UUID")
                .with_context(|| format!("blkid shows no UUID on {dev}: {id:?}"))?
                .clone(),
        });
    }

    let mut mounts = Mounts::new();
    // Parents first; not the ESP (this host's kernel may have no vfat) nor swap.
    let mut mounted: Vec<&Volume> = volumes
        .iter()
        .filter(|v| v.mount_point.starts_with('/') && v.fs_type != "vfat")
        .collect();
    mounted.sort_by_key(|v| v.mount_point.len());
    for v in &mounted {
        let at = mnt.join(v.mount_point.trim_start_matches('/'));
        mounts.mount(&disk.partition_path(v.number), &at, None);
    }
    run(command("cp").arg("-a").arg(rootfs.join(".")).arg(mnt))
        .context("copying the root onto the disk")?;
    write(&mnt.join("etc/fstab"), &fstab(&volumes))?;

    let esp = volumes
        .iter()
        .find(|v| v.fs_type == "vfat")
        .map(|v| disk.partition_path(v.number))
        .context("the layout has no ESP")?;
    let root_uuid = &volumes
        .iter()
        .find(|v| v.mount_point == "/")
        .context("the layout has no /")?
        .uuid;
    install_boot_loaders(mnt, &disk, &esp, root_uuid)?;
    sync();
    drop(mounts);
    drop(disk);
    Ok(volumes)
}

fn sfdisk_script() -> String {
    let mut s = String::from("label: gpt\n");
    for (i, p) in LAYOUT.iter().enumerate() {
        let start = if i == 0 { "start=1MiB, " } else { "" };
        s.push_str(&format!(
            "{start}size={}MiB, type={}, name=\"{}\"\n",
            p.size_mib, p.type_guid, p.name
        ));
    }
    s
}

fn fstab(volumes: &[Volume]) -> String {
    let mut s = String::from("# <file system>\t<mount point>\t<type>\t<options>\t<dump> <pass>\n");
    for v in volumes {
        let by_label = LAYOUT
            .iter()
            .any(|p| p.number == v.number && p.fstab_by_label);
        let spec = match (&v.label, by_label) {
            (Some(l), true) => format!("LABEL={l}"),
            _ => format!("UUID={}", v.uuid),
        };
        let (point, options, pass) = match (v.mount_point.as_str(), v.fs_type.as_str()) {
            ("swap", _) => ("none", "sw", 0),
            ("/", _) => ("/", "errors=remount-ro", 1),
            (m, "vfat") => (m, "umask=0077", 1),
            (m, _) => (m, "defaults", 2),
        };
        s.push_str(&format!(
            "{spec}\t{point}\t{}\t{options}\t0 {pass}\n",
            v.fs_type
        ));
    }
    s
}

/// GRUB as Debian's own tools install it, run in a chroot of the disk's root: into the MBR
/// and the BIOS boot partition (`--target=i386-pc`), onto the ESP at the removable path
/// (`--target=x86_64-efi --removable`), and grub.cfg by grub-mkconfig.
///
/// The chroot's /dev is a small tmpfs with the disk's nodes and a /dev/disk/by-uuid link
/// for the root (without it grub-mkconfig puts the loop device's name on the kernel's
/// command line): nothing is added to this host's /dev. grub-install insists that the EFI
/// directory is on FAT, which this host may not mount: GRUB finds a directory's device by
/// the mount's source in /proc/self/mountinfo, so a tmpfs whose source is the ESP's device
/// stands in at /boot/efi, and mtools copies what GRUB wrote there onto the ESP.
fn install_boot_loaders(
    root: &Path,
    disk: &LoopDisk,
    esp: &str,
    root_uuid: &str,
) -> anyhow::Result<()> {
    let dev = root.join("dev");
    let _dev = MountedBelow::new(&dev);
    run(command("mount")
        .args(["-t", "tmpfs", "-o", "mode=755,size=1m", "chroot-dev"])
        .arg(&dev))
    .context("mounting the chroot's /dev")?;
    make_device_nodes(&dev, disk, root_uuid)?;
    let mut binds = Mounts::new();
    for d in ["proc", "sys"] {
        binds.mount(&format!("/{d}"), &root.join(d), Some("bind"));
    }

    chroot(root, &["grub-install", "--target=i386-pc", disk.device()])?;

    let efi = root.join("boot/efi");
    let _efi = MountedBelow::new(&efi);
    fs::create_dir_all(&efi).context("creating /boot/efi")?;
    run(command("mount")
        .args(["-t", "tmpfs", "-o", "size=64m", esp])
        .arg(&efi))
    .context("mounting the stand-in ESP")?;
    chroot(
        root,
        &[
            "grub-install",
            "--target=x86_64-efi",
            "--efi-directory=/boot/efi",
            "--removable",
            "--no-nvram",
        ],
    )?;
    ensure!(
        efi.join("EFI/BOOT/BOOTX64.EFI").is_file(),
        "grub-install left no EFI/BOOT/BOOTX64.EFI"
    );
    run(command("mcopy")
        .env("MTOOLS_SKIP_CHECK", "1")
        .args(["-s", "-m", "-i", esp])
        .arg(efi.join("EFI"))
        .arg("::/"))
    .context("copying GRUB onto the ESP")?;
    drop(_efi);

    chroot(root, &["grub-mkconfig", "-o", "/boot/grub/grub.cfg"])?;
    let cfg = fs::read_to_string(root.join("boot/grub/grub.cfg")).context("reading grub.cfg")?;
    ensure!(
        cfg.contains(&format!("root=UUID={root_uuid}")) && cfg.contains("console=ttyS0"),
        "grub-mkconfig's menu does not boot root=UUID={root_uuid} on ttyS0:\n{cfg}"
    );
    Ok(())
}

/// In the chroot's /dev: null and friends, the disk and its partitions (numbers from
/// /sys), and /dev/disk/by-uuid/<root's UUID>.
fn make_device_nodes(dev: &Path, disk: &LoopDisk, root_uuid: &str) -> anyhow::Result<()> {
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
    ] {
        mknod(&dev.join(name), 'c', major, minor)?;
    }
    let sys = disk.sys_dir();
    let mut nodes = vec![(disk.name().to_string(), sys.join("dev"))];
    for e in fs::read_dir(&sys).with_context(|| format!("listing {}", sys.display()))? {
        let name = e?.file_name().to_string_lossy().into_owned();
        if name.starts_with(disk.name()) {
            nodes.push((name.clone(), sys.join(&name).join("dev")));
        }
    }
    for (name, numbers) in nodes {
        let text = fs::read_to_string(&numbers)
            .with_context(|| format!("reading {}", numbers.display()))?;
        let (major, minor) = text
            .trim()
            .split_once(':')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .with_context(|| format!("{}: {text:?} is not MAJOR:MINOR", numbers.display()))?;
        mknod(&dev.join(&name), 'b', major, minor)?;
    }
    let root_part = LAYOUT
        .iter()
        .find(|p| p.mount_point == Some("/"))
        .map(|p| format!("{}p{}", disk.name(), p.number))
        .context("the layout has no /")?;
    let by_uuid = dev.join("disk/by-uuid");
    fs::create_dir_all(&by_uuid).context("creating /dev/disk/by-uuid")?;
    std::os::unix::fs::symlink(format!("../../{root_part}"), by_uuid.join(root_uuid))
        .context("linking /dev/disk/by-uuid")?;
    Ok(())
}

fn mknod(path: &Path, kind: char, major: u32, minor: u32) -> anyhow::Result<()> {
    run(command("mknod")
        .args(["-m", "0666"])
        .arg(path)
        .arg(kind.to_string())
        .arg(major.to_string())
        .arg(minor.to_string()))?;
    let made = fs::symlink_metadata(path)?.file_type();
    ensure!(
        made.is_char_device() || made.is_block_device(),
        "{} is not a device node",
        path.display()
    );
    Ok(())
}

/// Runs `args` in a chroot of `root` with a plain PATH.
fn chroot(root: &Path, args: &[&str]) -> anyhow::Result<String> {
    run(command("chroot")
        .arg(root)
        .args(args)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"))
    .with_context(|| format!("{} in the machine's chroot", args.join(" ")))
}

/// Runs `cmd`; its stdout, or an error with its status and output.
fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = output(cmd);
    if !out.success() {
        bail!("{}", out.report());
    }
    Ok(out.stdout)
}

fn sync() {
    // A sync that fails leaves nothing to undo; the next read shows it.
    let _ = output(&mut command("sync"));
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Writes `value` as JSON, under a temporary name then renamed.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.partial");
    let text = serde_json::to_string_pretty(value).context("encoding JSON")?;
    fs::write(&tmp, text + "\n").with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("renaming {}", tmp.display()))
}

pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<T> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// An exclusive lock on a file (flock), released on drop.
#[derive(Debug)]
pub struct FileLock {
    _file: fs::File,
}

impl FileLock {
    /// Waits for the lock on `path` (made if missing).
    pub fn take(path: &Path) -> anyhow::Result<FileLock> {
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .with_context(|| format!("locking {}", path.display()))?;
        Ok(FileLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn the_layout_fits_its_disk_and_starts_at_one_mib() {
        let total: u64 = LAYOUT.iter().map(|p| p.size_mib).sum();
        assert!((total + 2) * MIB <= DISK_BYTES, "{total} MiB");
        let script = sfdisk_script();
        assert!(script.starts_with("label: gpt\nstart=1MiB, size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name=\"BIOS boot\"\n"), "{script}");
        let xfs = LAYOUT.iter().find(|p| p.fs_type == Some("xfs")).unwrap();
        assert!(xfs.size_mib >= 300);
    }

    #[test]
    fn fstab_names_root_by_label_and_the_rest_by_uuid() {
        let v = |number, mount: &str, fs: &str, label: Option<&str>| Volume {
            number,
            mount_point: mount.into(),
            fs_type: fs.into(),
            label: label.map(Into::into),
            uuid: format!("uuid-{number}"),
        };
        let text = fstab(&[
            v(2, "/boot/efi", "vfat", Some("ESP")),
            v(3, "/", "ext4", Some(ROOT_LABEL)),
            v(5, "/srv", "xfs", Some("debian-srv")),
            v(6, "swap", "swap", Some("debian-swap")),
        ]);
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                "UUID=uuid-2\t/boot/efi\tvfat\tumask=0077\t0 1",
                "LABEL=debian-root\t/\text4\terrors=remount-ro\t0 1",
                "UUID=uuid-5\t/srv\txfs\tdefaults\t0 2",
                "UUID=uuid-6\tnone\tswap\tsw\t0 0",
            ]
        );
    }

    #[test]
    fn the_key_changes_with_what_the_build_is_made_of() {
        let key = cache_key();
        assert_eq!(key.len(), 16);
        assert_eq!(key, cache_key());
        assert!(key.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
