//! `mkrescue create`: capture the layout, gather the rescue system, and write the media.

use crate::boot::{self, BootConfig, Console, HostPaths};
use crate::gather::{elf, kernel, modules, tools};
use crate::initramfs::{self, Tree};
use crate::iso::{self, IsoSpec};
use crate::probe::{self, SystemPaths};
use crate::{identity, skel};
use anyhow::{bail, Context};
use clap::Args;
use rescue_core::media::{self, Manifest, ToolsInfo, MANIFEST_VERSION};
use rescue_core::mountlist::{self, validate, FsType, Mountlist};
use rescue_core::runner::RealRunner;
use rescue_core::size::format_bytes;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Directory for the media: rescue-1.iso (made if missing)
    #[arg(long, value_name = "DIR")]
    pub output: PathBuf,

    /// Capture the system mounted under DIR instead of the running host
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,

    /// Make boot media only: the layout and the rescue system, without a backup of the files
    #[arg(long)]
    pub no_backup: bool,

    /// Kernel image to boot (default: the running kernel, /boot/vmlinuz-RELEASE)
    #[arg(long, value_name = "FILE")]
    pub kernel: Option<PathBuf>,

    /// The kernel's modules, a /lib/modules/RELEASE directory (default: the kernel's own)
    #[arg(long, value_name = "DIR")]
    pub modules_dir: Option<PathBuf>,

    /// More kernel modules to bundle, with their dependencies (comma-separated, repeatable)
    #[arg(long = "modules", value_name = "NAME,...", value_delimiter = ',')]
    pub modules: Vec<String>,

    /// The static restore-tui binary to run as /init (default: the one beside mkrescue)
    #[arg(long, value_name = "FILE")]
    pub restore_tui: Option<PathBuf>,

    /// Where the restore tools and their libraries are taken from
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub tools_root: PathBuf,

    /// Which console the boot menu's default entries use: vga, or serial for headless hosts
    #[arg(long, value_name = "CONSOLE", default_value = "vga")]
    pub console: Console,

    /// Seconds the boot menu waits before starting the default entry
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub boot_timeout: u32,

    /// More kernel arguments for every boot menu entry (such as "nomodeset")
    #[arg(long, value_name = "ARGS", default_value = "")]
    pub append: String,

    /// gzip level of the initramfs (1 fastest .. 9 smallest)
    #[arg(long, value_name = "N", default_value_t = 6)]
    pub initramfs_level: u32,

    /// Print a JSON summary at the end
    #[arg(long)]
    pub json: bool,

    #[arg(long, value_name = "DIR", default_value = "/sys", hide = true)]
    pub sysfs: PathBuf,

    #[arg(long, value_name = "DIR", default_value = "/proc", hide = true)]
    pub procfs: PathBuf,

    #[arg(long, value_name = "DIR", default_value = "/dev", hide = true)]
    pub devfs: PathBuf,
}

/// What one run made, for the summary.
#[derive(Debug, serde::Serialize)]
pub struct Summary {
    pub iso: PathBuf,
    pub label: String,
    pub iso_bytes: u64,
    pub initramfs_bytes: u64,
    pub initramfs_files: u64,
    pub kernel: String,
    pub modules: usize,
    pub firmware: usize,
    pub tools: usize,
    pub tools_missing: Vec<String>,
    pub bios: bool,
    pub uefi: bool,
    /// Milliseconds each phase took.
    pub timings: Timings,
    pub warnings: Vec<String>,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct Timings {
    pub capture_ms: u64,
    pub gather_ms: u64,
    pub initramfs_ms: u64,
    pub boot_loaders_ms: u64,
    pub iso_ms: u64,
}

/// Milliseconds since `start`, and restarts it.
fn lap(start: &mut Instant) -> u64 {
    let ms = start.elapsed().as_millis() as u64;
    *start = Instant::now();
    ms
}

pub fn run(args: &CreateArgs) -> anyhow::Result<i32> {
    if !args.no_backup {
        bail!(
            "this version makes boot media only: add --no-backup (the media then rebuild the \
             disks but hold no files)"
        );
    }
    let summary = create(args)?;
    for w in &summary.warnings {
        eprintln!("warning: {w}");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "{}: {} ({}; initramfs {} in {} files; kernel {}, {} modules, {} tools{}; boot: {})",
            summary.iso.display(),
            summary.label,
            format_bytes(summary.iso_bytes),
            format_bytes(summary.initramfs_bytes),
            summary.initramfs_files,
            summary.kernel,
            summary.modules,
            summary.tools,
            if summary.tools_missing.is_empty() {
                String::new()
            } else {
                format!(", missing: {}", summary.tools_missing.join(" "))
            },
            match (summary.bios, summary.uefi) {
                (true, true) => "BIOS and UEFI",
                (true, false) => "BIOS only",
                (false, true) => "UEFI only",
                (false, false) => "none",
            }
        );
    }
    Ok(0)
}

pub fn create(args: &CreateArgs) -> anyhow::Result<Summary> {
    let mut warnings = Vec::new();
    let mut timings = Timings::default();
    let mut clock = Instant::now();
    let epoch = identity::epoch();
    let paths = SystemPaths {
        proc: args.procfs.clone(),
        sys: args.sysfs.clone(),
        dev: args.devfs.clone(),
    };
    let ml = probe::capture(&args.root, &paths, epoch).context("capturing the disk layout")?;
    warnings.extend(ml.warnings.iter().cloned());
    timings.capture_ms = lap(&mut clock);
    for p in validate::validate(&ml)
        .iter()
        .filter(|p| p.severity == validate::Severity::Error)
    {
        warnings.push(format!(
            "the layout has a problem a restore will refuse until the mountlist is edited: {p}"
        ));
    }

    let running = fs::read_to_string(args.procfs.join("sys/kernel/osrelease"))
        .context("reading the running kernel's release")?;
    let kernel = kernel::find_kernel(
        args.kernel.as_deref(),
        args.modules_dir.as_deref(),
        Path::new("/boot"),
        Path::new("/lib/modules"),
        running.trim(),
    )?;
    warnings.extend(kernel.warnings.iter().cloned());
    let restore_tui = find_restore_tui(args.restore_tui.as_deref())?;

    let backup_id = identity::backup_id(&ml.host.hostname, epoch);
    let label = Manifest::label_for(&backup_id);

    let mut tree = Tree::new();
    let tool_report = tools::gather_tools(&args.tools_root, tools::DEFAULT_TOOLS, &mut tree)
        .context("gathering the restore tools and their libraries")?;
    // "grub-install|grub2-install" means either; users know it by its first name.
    let tools_missing: Vec<String> = tool_report
        .missing
        .iter()
        .map(|n| n.split('|').next().unwrap_or(n).to_string())
        .collect();
    for name in &tools_missing {
        warnings.push(format!(
            "{name} is not installed here: the rescue system will not have it"
        ));
    }
    skel::add_skeleton(&mut tree).context("adding the rescue system's skeleton")?;

    let wanted = wanted_modules(&args.procfs, &ml, &args.modules);
    let module_report =
        modules::gather_modules(&kernel, &wanted, Path::new("/lib/firmware"), &mut tree)
            .context("gathering kernel modules")?;
    for name in module_report
        .missing
        .iter()
        .filter(|m| args.modules.contains(m))
    {
        warnings.push(format!(
            "module {name} (asked for with --modules) is not in {}",
            kernel.modules_dir.display()
        ));
    }

    tree.host_file("/init", &restore_tui, 0o755)?;
    tree.symlink("/usr/bin/restore-tui", "/init")?;
    let mountlist_json = mountlist::to_json(&ml);
    tree.bytes(media::INITRAMFS_MOUNTLIST, mountlist_json.clone(), 0o644)?;
    let tools_info = ToolsInfo {
        available: tool_report.found.clone(),
        missing: tools_missing.clone(),
    };
    tree.bytes(
        media::INITRAMFS_TOOLS,
        serde_json::to_vec_pretty(&tools_info)?,
        0o644,
    )?;

    timings.gather_ms = lap(&mut clock);
    fs::create_dir_all(&args.output)
        .with_context(|| format!("making the output directory {}", args.output.display()))?;
    let scratch = tempfile::Builder::new()
        .prefix(".mkrescue-")
        .tempdir_in(&args.output)
        .with_context(|| format!("making a scratch directory in {}", args.output.display()))?;
    let initrd = scratch.path().join("initrd.gz");
    let stats = {
        let mut file =
            fs::File::create(&initrd).with_context(|| format!("creating {}", initrd.display()))?;
        let mtime = u32::try_from(epoch).unwrap_or(u32::MAX);
        let stats = initramfs::write_gzip(&tree, &mut file, mtime, args.initramfs_level)
            .context("writing the initramfs")?;
        file.sync_all()?;
        stats
    };
    let initramfs_bytes = fs::metadata(&initrd)?.len();
    timings.initramfs_ms = lap(&mut clock);

    let boot_cfg = BootConfig {
        label: label.clone(),
        kernel: "/boot/vmlinuz".into(),
        initrd: "/boot/initrd.gz".into(),
        console: args.console,
        timeout_seconds: args.boot_timeout,
        // Kernel messages below warnings would interleave with restore-tui's lines.
        extra_args: format!("loglevel=4 {}", args.append).trim().to_string(),
    };
    let boot_files = boot::prepare(
        &boot_cfg,
        &HostPaths::default(),
        &RealRunner,
        scratch.path(),
    )
    .context("preparing the boot loaders")?;
    warnings.extend(boot_files.warnings.iter().cloned());
    timings.boot_loaders_ms = lap(&mut clock);

    let manifest = Manifest {
        version: MANIFEST_VERSION,
        backup_id: backup_id.clone(),
        label: label.clone(),
        volume: 1,
        volumes: 1,
        created: epoch,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        hostname: ml.host.hostname.clone(),
        kernel_release: kernel.release.clone(),
        sets: Vec::new(),
        compression: media::Compression::default(),
    };
    let mut files = vec![
        (
            "/boot/vmlinuz".to_string(),
            iso::IsoSource::Host(kernel.image.clone()),
        ),
        (
            "/boot/initrd.gz".to_string(),
            iso::IsoSource::Host(initrd.clone()),
        ),
        (
            media::MANIFEST_PATH.to_string(),
            iso::IsoSource::Bytes(serde_json::to_vec_pretty(&manifest)?),
        ),
        (
            media::MOUNTLIST_PATH.to_string(),
            iso::IsoSource::Bytes(mountlist_json.into_bytes()),
        ),
    ];
    files.extend(boot_files.files.iter().cloned());
    let iso_path = args.output.join("rescue-1.iso");
    let spec = IsoSpec {
        volume_id: label.clone(),
        files,
        bios: boot_files.bios.clone(),
        uefi: boot_files.uefi.clone(),
        hybrid: true,
        publisher: format!("mkrescue {}", env!("CARGO_PKG_VERSION")),
        mtime: i64::try_from(epoch).unwrap_or(i64::MAX),
    };
    iso::write_iso(&spec, &iso_path).with_context(|| format!("writing {}", iso_path.display()))?;
    timings.iso_ms = lap(&mut clock);

    Ok(Summary {
        iso_bytes: fs::metadata(&iso_path)?.len(),
        iso: iso_path,
        label,
        initramfs_bytes,
        initramfs_files: stats.entries,
        kernel: kernel.release,
        modules: module_report.included.len(),
        firmware: module_report.firmware.len(),
        tools: tool_report.found.len(),
        tools_missing,
        bios: boot_files.bios.is_some(),
        uefi: boot_files.uefi.is_some(),
        timings,
        warnings,
    })
}

/// Modules loaded now, the built-in set, the filesystems of the layout and the user's.
fn wanted_modules(procfs: &Path, ml: &Mountlist, extra: &[String]) -> Vec<String> {
    let mut wanted: Vec<String> = fs::read_to_string(procfs.join("modules"))
        .map(|text| {
            text.lines()
                .filter_map(|l| l.split_whitespace().next())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    wanted.extend(modules::BUILTIN_SET.iter().map(|m| m.to_string()));
    for (_, fs) in ml.filesystems() {
        let module = match &fs.fs_type {
            FsType::Ext2 | FsType::Ext3 | FsType::Ext4 => Some("ext4"),
            FsType::Xfs => Some("xfs"),
            FsType::Vfat => Some("vfat"),
            FsType::Btrfs => Some("btrfs"),
            FsType::Swap => None,
            FsType::Other(name) => Some(name.as_str()),
        };
        wanted.extend(module.map(str::to_string));
    }
    wanted.extend(extra.iter().cloned());
    wanted.sort();
    wanted.dedup();
    wanted
}

/// The restore-tui to use as /init: given, or beside this mkrescue; it must be static,
/// because the initramfs has no loader for it to rely on at PID 1.
fn find_restore_tui(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let path = match given {
        Some(p) => p.to_path_buf(),
        None => {
            let me = std::env::current_exe().context("finding mkrescue's own path")?;
            let beside = me.with_file_name("restore-tui");
            if !beside.exists() {
                bail!(
                    "no restore-tui beside {} : give the static binary with --restore-tui FILE \
                     (build it with RUSTFLAGS='-C target-feature=+crt-static' cargo build \
                     --release --target x86_64-unknown-linux-gnu -p restore-tui)",
                    me.display()
                );
            }
            beside
        }
    };
    let is_static = elf::is_static(&path)
        .with_context(|| format!("checking that {} is a static binary", path.display()))?;
    if !is_static {
        bail!(
            "{} is dynamically linked: restore-tui runs as /init and must be static (build it \
             with RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target \
             x86_64-unknown-linux-gnu -p restore-tui)",
            path.display()
        );
    }
    Ok(path)
}
