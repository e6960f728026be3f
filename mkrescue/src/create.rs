//! `mkrescue create`: capture the layout, gather the rescue system, and write the media.

use crate::backup::{self as backup_mod, select::Rules, BackupOptions, SetReady};
use crate::boot::{self, BootConfig, Console, HostPaths};
use crate::cli::SystemArgs;
use crate::gather::{elf, kernel, modules, tools};
use crate::initramfs::{self, Tree};
use crate::iso;
use crate::probe;
use crate::volume_writer::{FirstVolume, OutputFormat, VolumeWriter, WrittenVolume};
use crate::{identity, skel};
use anyhow::{bail, Context};
use clap::Args;
use rescue_core::media::{self, Compression, Manifest, ToolsInfo};
use rescue_core::mountlist::{self, validate, FsType, Mountlist};
use rescue_core::runner::RealRunner;
use rescue_core::signature::SigningKey;
use rescue_core::size::format_bytes;
use rescue_core::volumes::{max_set_size, MediaSizes, Overhead, VolumePacker, DEFAULT_SET_SIZE};
use std::collections::HashSet;
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

    /// Back up only these paths (repeatable; globs; "/home" from the captured root, or a
    /// name such as "*.db" anywhere)
    #[arg(short = 'I', long = "include", value_name = "PATH")]
    pub include: Vec<String>,

    /// Leave these paths out (repeatable; globs; "/var/cache", or a name such as "*.tmp")
    #[arg(short = 'E', long = "exclude", value_name = "PATH")]
    pub exclude: Vec<String>,

    /// How the archive sets are compressed
    #[arg(long, value_name = "ALGORITHM", default_value = "zstd")]
    pub compress: Compression,

    /// Compression level (zstd 1-19, default 3; gzip 1-9, default 6)
    #[arg(long, value_name = "N")]
    pub level: Option<i32>,

    /// Sizes of the volumes, as Mondo takes them: "650m,4.7g" makes the first 650 MiB and
    /// every later one 4.7 GiB; a longer list sets each in turn and the last repeats
    /// (default: one volume of any size). "4.7GB" is decimal, as DVDs are sold
    #[arg(short = 's', long = "media-size", value_name = "SIZE,...")]
    pub media_size: Option<String>,

    /// Largest tar stream of one archive set (default 256m, smaller for small media)
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub set_size: Option<u64>,

    /// Write the volumes as ISO images (rescue-N.iso) or as plain directories (rescue-N/)
    #[arg(long, value_name = "FORMAT", default_value = "iso")]
    pub output_format: OutputFormat,

    /// Run this before each volume is written ({iso} and {volume}, or Mondo's _ISO_ and
    /// _CD#_, are replaced; also in $MKRESCUE_ISO and $MKRESCUE_VOLUME)
    #[arg(long, value_name = "CMD")]
    pub before_volume: Option<String>,

    /// Run this after each volume is written, such as a command that burns it; a failing
    /// hook stops the run
    #[arg(long, value_name = "CMD")]
    pub after_volume: Option<String>,

    /// Also write the (single-volume) image straight to this block device, such as a USB
    /// stick, and read it back to verify. Everything on the device is lost
    #[arg(long, value_name = "DEVICE")]
    pub write_to: Option<PathBuf>,

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

    /// Sign each volume's manifest with this ed25519 private key (PEM, as made by `openssl
    /// genpkey -algorithm ed25519 -out KEY.pem`); the signature is written beside it as
    /// rescue/manifest.sig, and the public key into the rescue system as
    /// /etc/rescue/trusted-key.pem. Restores check it with --trusted-key
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,

    /// Print a JSON summary at the end
    #[arg(long)]
    pub json: bool,

    /// Where to keep the log of the run: the summary and every warning (default:
    /// mkrescue.log in the output directory)
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,

    #[command(flatten)]
    pub system: SystemArgs,
}

/// What one run made, for the summary.
#[derive(Debug, serde::Serialize)]
pub struct Summary {
    /// Volume 1 and its label (the boot media).
    pub iso: PathBuf,
    pub label: String,
    pub iso_bytes: u64,
    pub volumes: Vec<WrittenVolume>,
    /// What the backup stored (absent with --no-backup).
    pub backup: Option<BackupReport>,
    pub initramfs_bytes: u64,
    pub initramfs_files: u64,
    pub kernel: String,
    pub modules: usize,
    pub firmware: usize,
    pub tools: usize,
    pub tools_missing: Vec<String>,
    pub bios: bool,
    pub uefi: bool,
    /// The public key (hex) whose private part signed every volume's manifest (`--sign`).
    pub signed_by: Option<String>,
    /// Milliseconds each phase took.
    pub timings: Timings,
    pub warnings: Vec<String>,
    /// Mounted filesystems of the host that these media cannot restore (on a storage
    /// stack this version does not capture) and that no exclude left out on purpose: the
    /// run then exits with [`EXIT_INCOMPLETE`].
    pub left_out: Vec<String>,
}

/// The exit code of a run that made media but left part of the host out.
pub const EXIT_INCOMPLETE: i32 = 3;

#[derive(Debug, Default, serde::Serialize)]
pub struct Timings {
    pub capture_ms: u64,
    pub gather_ms: u64,
    pub initramfs_ms: u64,
    pub boot_loaders_ms: u64,
    /// The backup and the volumes (with --no-backup, the one boot volume).
    pub iso_ms: u64,
}

/// What went into the archive sets.
#[derive(Debug, Default, serde::Serialize)]
pub struct BackupReport {
    pub files: u64,
    pub entries: u64,
    /// Logical bytes of the files read.
    pub bytes_in: u64,
    /// Bytes of the compressed sets.
    pub bytes_out: u64,
    pub ratio: f64,
    pub sets: u32,
    /// The whole backup, volumes included.
    pub seconds: f64,
    /// Of which selecting the files and writing the catalog (pass 1).
    pub plan_seconds: f64,
    /// Of which writing the volumes (ISO images or directories) from the finished sets.
    pub volume_seconds: f64,
    pub changed: Vec<String>,
    pub unreadable: Vec<String>,
    pub vanished: Vec<String>,
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// Milliseconds since `start`, and restarts it.
fn lap(start: &mut Instant) -> u64 {
    let ms = start.elapsed().as_millis() as u64;
    *start = Instant::now();
    ms
}

fn parse_size(text: &str) -> Result<u64, String> {
    rescue_core::size::parse_bytes(text).map_err(|e| e.to_string())
}

pub fn run(args: &CreateArgs) -> anyhow::Result<i32> {
    let summary = create(args)?;
    for w in &summary.warnings {
        eprintln!("warning: {w}");
    }
    let log = args
        .log
        .clone()
        .unwrap_or_else(|| args.output.join("mkrescue.log"));
    let mut text = String::new();
    for w in &summary.warnings {
        text.push_str(&format!("warning: {w}\n"));
    }
    text.push_str(&serde_json::to_string_pretty(&summary)?);
    text.push('\n');
    crate::output::write_atomically(&log, text.as_bytes(), 0o600)
        .with_context(|| format!("writing the log {}", log.display()))?;
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
        for v in summary.volumes.iter().skip(1) {
            println!(
                "{}: {} ({})",
                v.path.display(),
                v.label,
                format_bytes(v.bytes)
            );
        }
        if let Some(b) = &summary.backup {
            println!(
                "backup: {} files, {} read, {} in {} sets ({:.2}:1), {} volume(s), {:.1} s{}",
                b.files,
                format_bytes(b.bytes_in),
                format_bytes(b.bytes_out),
                b.sets,
                b.ratio,
                summary.volumes.len(),
                b.seconds,
                if b.changed.is_empty() && b.unreadable.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; {} changed while read, {} unreadable (see the warnings)",
                        b.changed.len(),
                        b.unreadable.len()
                    )
                }
            );
        }
    }
    if summary.left_out.is_empty() {
        return Ok(0);
    }
    eprintln!(
        "error: these media cannot restore all of this host: {} left out; they restore the \
         rest. Exclude what you mean to leave out (-E), or back it up by other means (exit \
         code {EXIT_INCOMPLETE})",
        summary.left_out.join("; ")
    );
    Ok(EXIT_INCOMPLETE)
}

pub fn create(args: &CreateArgs) -> anyhow::Result<Summary> {
    // A key that cannot be used stops the run before any work.
    let signer = args
        .sign
        .as_deref()
        .map(SigningKey::read)
        .transpose()
        .context("--sign")?;
    let mut warnings = Vec::new();
    let mut timings = Timings::default();
    let mut clock = Instant::now();
    let epoch = identity::epoch();
    let paths = args.system.paths();
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

    let running = fs::read_to_string(args.system.procfs.join("sys/kernel/osrelease"))
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
    let label = Manifest::volume_label(&backup_id, 1);

    let mut tree = Tree::new();
    let tool_report = tools::gather_tools(&args.tools_root, tools::DEFAULT_TOOLS, &mut tree)
        .context("gathering the restore tools and their libraries")?;
    // "grub-install|grub2-install" means either; users know it by its first name.
    let tools_missing: Vec<String> = tool_report
        .missing
        .iter()
        .map(|n| n.split('|').next().unwrap_or(n).to_string())
        .collect();
    warnings.extend(missing_tool_warnings(&tools_missing, &ml));
    skel::add_skeleton(&mut tree).context("adding the rescue system's skeleton")?;

    let wanted = wanted_modules(&args.system.procfs, &ml, &args.modules);
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
    let signed_by = signer.as_ref().map(SigningKey::trusted_key);
    if let Some(public) = &signed_by {
        // Only the public part: the rescue system checks the other volumes with it.
        tree.bytes(
            media::INITRAMFS_TRUSTED_KEY,
            public.to_pem()?.into_bytes(),
            0o644,
        )?;
    }

    timings.gather_ms = lap(&mut clock);
    crate::output::make_output_dir(&args.output)?;
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

    let mtime = i64::try_from(epoch).unwrap_or(i64::MAX);
    let mut first_files = vec![
        (
            "/boot/vmlinuz".to_string(),
            iso::IsoSource::Host(kernel.image.clone()),
        ),
        (
            "/boot/initrd.gz".to_string(),
            iso::IsoSource::Host(initrd.clone()),
        ),
        (
            media::MOUNTLIST_PATH.to_string(),
            iso::IsoSource::Bytes(mountlist_json.into_bytes()),
        ),
    ];
    first_files.extend(boot_files.files.iter().cloned());
    let sizes = match &args.media_size {
        Some(list) => MediaSizes::parse(list).context("-s/--media-size")?,
        None => MediaSizes::unlimited(),
    };
    let mut writer = VolumeWriter {
        output: args.output.clone(),
        format: args.output_format,
        backup_id: backup_id.clone(),
        created: epoch,
        hostname: ml.host.hostname.clone(),
        kernel_release: kernel.release.clone(),
        compression: args.compress,
        before_hook: args.before_volume.clone(),
        after_hook: args.after_volume.clone(),
        runner: &RealRunner,
        first: Some(FirstVolume {
            files: first_files,
            bios: boot_files.bios.clone(),
            uefi: boot_files.uefi.clone(),
        }),
        sizes: sizes.clone(),
        signer,
    };
    let (volumes, backup) = if args.no_backup {
        // The boot files alone must fit the first medium: say so before writing anything.
        VolumePacker::new(sizes.clone(), first_volume_bytes(&writer)?, overhead(args))?;
        (vec![writer.write(1, 1, &[], mtime)?], None)
    } else {
        let (volumes, report) =
            write_backup(args, &ml, &mut writer, &sizes, scratch.path(), mtime)?;
        warnings.extend(report.warnings.iter().cloned());
        (volumes, Some(report))
    };
    timings.iso_ms = lap(&mut clock);
    if let Some(device) = &args.write_to {
        write_to_device(&volumes, device)?;
    }

    let first = volumes.first().context("no volume was written")?;
    Ok(Summary {
        iso_bytes: first.bytes,
        iso: first.path.clone(),
        label,
        volumes,
        backup,
        initramfs_bytes,
        initramfs_files: stats.entries,
        kernel: kernel.release,
        modules: module_report.included.len(),
        firmware: module_report.firmware.len(),
        tools: tool_report.found.len(),
        tools_missing,
        bios: boot_files.bios.is_some(),
        uefi: boot_files.uefi.is_some(),
        signed_by: signed_by.map(|k| k.fingerprint()),
        timings,
        warnings,
        left_out: left_out(&ml, &args.exclude),
    })
}

/// The mounted filesystems these media cannot restore, unless an exclude names them.
fn left_out(ml: &Mountlist, excludes: &[String]) -> Vec<String> {
    let rules = Rules {
        includes: Vec::new(),
        excludes: excludes.to_vec(),
    };
    ml.unsupported
        .iter()
        .filter_map(|u| {
            let mp = u.mount_point.as_deref()?;
            (!rules.excludes(mp.trim_start_matches('/').as_bytes()))
                .then(|| format!("{mp} ({}, {})", u.device, u.kind))
        })
        .collect()
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

/// Backs the files up into sets and writes the volumes as they fill.
fn write_backup(
    args: &CreateArgs,
    ml: &Mountlist,
    writer: &mut VolumeWriter<'_>,
    sizes: &MediaSizes,
    scratch: &Path,
    mtime: i64,
) -> anyhow::Result<(Vec<WrittenVolume>, BackupReport)> {
    let started = Instant::now();
    let root = fs::canonicalize(&args.root)
        .with_context(|| format!("resolving --root {}", args.root.display()))?;
    let overhead = overhead(args);
    let set_size = match args.set_size {
        Some(size) => size,
        None => max_set_size(sizes, overhead, args.compress, DEFAULT_SET_SIZE)
            .context("choosing the size of the archive sets")?,
    };
    let level = args.level.unwrap_or(match args.compress {
        Compression::Gzip => 6,
        _ => 3,
    });
    // Each filesystem through a private bind of it; unmounted (when `binds` drops) before
    // the scratch directory that holds them is removed.
    let mount_points: Vec<String> = ml
        .filesystems()
        .filter_map(|(_, f)| f.mount_point.clone())
        .collect();
    let mut binds = backup_mod::binds::bind_filesystems(&root, &mount_points, scratch);
    let opts = BackupOptions {
        root: root.clone(),
        rules: Rules {
            includes: args.include.clone(),
            excludes: args.exclude.clone(),
        },
        devices: backed_up_devices(&root, ml),
        skip: vec![args.output.clone(), scratch.to_path_buf()],
        sources: binds.sources.clone(),
        set_size,
        compression: args.compress,
        level,
        workers: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
    };

    let mut packer: Option<VolumePacker> = None;
    let mut pending: Vec<SetReady> = Vec::new();
    let mut volumes: Vec<WrittenVolume> = Vec::new();
    let mut bytes_out = 0u64;
    let mut tar_bytes = 0u64;
    let mut volume_time = std::time::Duration::ZERO;
    let catalog = scratch.join("catalog.zst");
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let summary = backup_mod::run(&opts, scratch, &mut |set| {
        bytes_out += set.set.bytes;
        if packer.is_none() {
            // The catalog is complete before the first set: volume 1 can be sized now.
            add_catalog(writer, &catalog)?;
            packer = Some(VolumePacker::new(
                sizes.clone(),
                first_volume_bytes(writer)?,
                overhead,
            )?);
        }
        let p = packer.as_mut().context("volume packer")?;
        if let Some(closed) = p.add_set(set.set.number, set.set.bytes, set.hashes_bytes)? {
            let (these, rest): (Vec<_>, Vec<_>) = pending
                .drain(..)
                .partition(|s| closed.sets.contains(&s.set.number));
            pending = rest;
            let t = Instant::now();
            volumes.push(writer.write(closed.volume, 0, &these, mtime)?);
            volume_time += t.elapsed();
        }
        pending.push(set);
        tar_bytes += pending.last().map(|s| s.set.tar_bytes).unwrap_or(0);
        let secs = started.elapsed().as_secs_f64().max(0.001);
        let line = format!(
            "backup: set {} done, {} archived into {} ({:.0} MB/s), {} volume(s) written",
            pending.last().map(|s| s.set.number).unwrap_or(0),
            format_bytes(tar_bytes),
            format_bytes(bytes_out),
            tar_bytes as f64 / secs / 1e6,
            volumes.len()
        );
        if progress {
            eprint!("\r{line}   ");
        } else {
            eprintln!("{line}");
        }
        Ok(())
    })?;
    if progress {
        eprintln!();
    }
    let packer = match packer {
        Some(p) => p,
        None => {
            add_catalog(writer, &catalog)?;
            VolumePacker::new(sizes.clone(), first_volume_bytes(writer)?, overhead)?
        }
    };
    let last = packer.finish();
    let t = Instant::now();
    volumes.push(writer.write(last.volume, last.volume, &pending, mtime)?);
    volume_time += t.elapsed();

    let seconds = started.elapsed().as_secs_f64();
    let mut warnings = std::mem::take(&mut binds.warnings);
    drop(binds);
    warnings.extend(summary.plan.warnings);
    warnings.extend(summary.store.warnings.iter().cloned());
    for f in &summary.store.changed {
        warnings.push(format!(
            "{f} changed while it was read: stored as read, and marked"
        ));
    }
    for f in &summary.store.unreadable {
        warnings.push(format!("cannot read {f}: not backed up"));
    }
    for f in &summary.store.vanished {
        warnings.push(format!("{f} vanished before it was read"));
    }
    Ok((
        volumes,
        BackupReport {
            files: summary.plan.files,
            entries: summary.plan.entries,
            bytes_in: summary.plan.bytes,
            bytes_out,
            ratio: if bytes_out == 0 {
                0.0
            } else {
                summary.plan.bytes as f64 / bytes_out as f64
            },
            sets: summary.plan.sets,
            seconds,
            plan_seconds: summary.plan_seconds,
            volume_seconds: volume_time.as_secs_f64(),
            changed: summary.store.changed,
            unreadable: summary.store.unreadable,
            vanished: summary.store.vanished,
            warnings,
        },
    ))
}

/// What a volume needs beyond its files, in the chosen output format.
fn overhead(args: &CreateArgs) -> Overhead {
    match args.output_format {
        OutputFormat::Iso => Overhead::ISO9660,
        OutputFormat::Dir => Overhead::DIRECTORY,
    }
}

/// Devices of the filesystems the mountlist captured, as mounted under the root now.
fn backed_up_devices(root: &Path, ml: &Mountlist) -> HashSet<u64> {
    use std::os::unix::fs::MetadataExt;
    ml.filesystems()
        .filter_map(|(_, f)| f.mount_point.as_deref())
        .filter_map(|m| fs::metadata(root.join(m.trim_start_matches('/'))).ok())
        .map(|m| m.dev())
        .collect()
}

fn add_catalog(writer: &mut VolumeWriter<'_>, catalog: &Path) -> anyhow::Result<()> {
    let first = writer
        .first
        .as_mut()
        .context("volume 1 was already written")?;
    first.files.push((
        media::CATALOG_PATH.to_string(),
        iso::IsoSource::Host(catalog.to_path_buf()),
    ));
    Ok(())
}

/// Bytes volume 1 holds before any set: boot files, mountlist, catalog.
fn first_volume_bytes(writer: &VolumeWriter<'_>) -> anyhow::Result<u64> {
    let first = writer
        .first
        .as_ref()
        .context("volume 1 was already written")?;
    let mut total = 0;
    for (_, source) in &first.files {
        total += match source {
            iso::IsoSource::Host(p) => fs::metadata(p)
                .with_context(|| format!("reading {}", p.display()))?
                .len(),
            iso::IsoSource::Bytes(b) => b.len() as u64,
        };
    }
    Ok(total)
}

/// Copies the single volume onto a block device and reads it back to compare.
fn write_to_device(volumes: &[WrittenVolume], device: &Path) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let [only] = volumes else {
        bail!(
            "--write-to takes a single-volume backup, and this one has {} volumes: leave out \
             -s or give a larger size",
            volumes.len()
        );
    };
    anyhow::ensure!(
        only.path.is_file(),
        "--write-to needs an ISO image (leave out --output-format dir)"
    );
    let mut src = fs::File::open(&only.path)?;
    let mut dst = fs::OpenOptions::new()
        .write(true)
        .open(device)
        .with_context(|| format!("opening {} for writing", device.display()))?;
    let mut buf = vec![0u8; 4 << 20];
    let mut written = blake3::Hasher::new();
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        dst.write_all(&buf[..n])
            .with_context(|| format!("writing {}", device.display()))?;
        written.update(&buf[..n]);
    }
    dst.sync_all()
        .with_context(|| format!("flushing {}", device.display()))?;
    drop(dst);
    let mut back = fs::File::open(device)?.take(only.bytes);
    let mut read = blake3::Hasher::new();
    loop {
        let n = back.read(&mut buf)?;
        if n == 0 {
            break;
        }
        read.update(&buf[..n]);
    }
    anyhow::ensure!(
        read.finalize() == written.finalize(),
        "{} does not read back what was written: the device may be failing",
        device.display()
    );
    Ok(())
}

/// A warning for each missing tool the restore of `ml` may need: a tool for a kind of
/// filesystem the host does not have is no loss.
fn missing_tool_warnings(missing: &[String], ml: &Mountlist) -> Vec<String> {
    let kinds: std::collections::BTreeSet<&str> = ml
        .filesystems()
        .map(|(_, f)| match f.fs_type.as_str() {
            "ext2" | "ext3" | "ext4" => "ext",
            other => other,
        })
        .collect();
    missing
        .iter()
        .filter(|name| tools::needed_only_for(name).is_none_or(|kind| kinds.contains(kind)))
        .map(|name| format!("{name} is not installed here: the rescue system will not have it"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounted_filesystems_on_unsupported_stacks_are_left_out_unless_excluded() {
        let mut ml = mountlist::from_json(
            r#"{"version": 1,
                "host": {"hostname": "h", "root": "/", "kernel_release": "6.1", "captured_at": 0},
                "boot": {"mode": "bios"}, "disks": []}"#,
        )
        .unwrap();
        let lv = |device: &str, mp: Option<&str>| rescue_core::mountlist::Unsupported {
            device: device.into(),
            kind: rescue_core::mountlist::UnsupportedKind::LvmLogicalVolume,
            detail: String::new(),
            mount_point: mp.map(String::from),
        };
        ml.unsupported = vec![
            lv("/dev/mapper/sys-root", Some("/")),
            lv("/dev/mapper/sys-srv", Some("/srv")),
            lv("/dev/mapper/sys-unused", None),
        ];
        assert_eq!(
            left_out(&ml, &[]),
            [
                "/ (/dev/mapper/sys-root, LVM logical volume)",
                "/srv (/dev/mapper/sys-srv, LVM logical volume)"
            ]
        );
        assert_eq!(
            left_out(&ml, &["/srv".to_string()]),
            ["/ (/dev/mapper/sys-root, LVM logical volume)"]
        );
    }

    #[test]
    fn only_tools_the_layout_needs_are_warned_about() {
        let ml = mountlist::from_json(
            r#"{"version": 1,
                "host": {"hostname": "h", "root": "/", "kernel_release": "6.1", "captured_at": 0},
                "boot": {"mode": "bios"},
                "disks": [{"path": "/dev/vda", "sectors": 2097152, "logical_sector_size": 512,
                           "physical_sector_size": 512, "table": {"type": "none"},
                           "filesystem": {"type": "ext4", "mount_point": "/"}}]}"#,
        )
        .unwrap();
        let missing: Vec<String> = ["mkfs.btrfs", "xfs_repair", "mkfs.ext4", "efibootmgr"]
            .map(String::from)
            .to_vec();
        let warned = missing_tool_warnings(&missing, &ml);
        assert_eq!(
            warned,
            [
                "mkfs.ext4 is not installed here: the rescue system will not have it",
                "efibootmgr is not installed here: the rescue system will not have it",
            ]
        );
    }
}
