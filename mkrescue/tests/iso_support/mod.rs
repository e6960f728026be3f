//! Shared by the ISO tests: tool checks, and rescue media built with the host's real boot
//! loaders (`boot::prepare`) and the project's writer (`iso::write_iso`).

#![allow(dead_code)]

use mkrescue::boot::{self, BootConfig, BootFiles, Console, HostPaths};
use mkrescue::iso::{self, IsoSource, IsoSpec, IsoStats};
use rescue_core::runner::RealRunner;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const LABEL: &str = "RESCUE_TEST1";

/// A Rock Ridge name the primary tree cannot hold: mixed case, spaces, long.
pub const LONG_DIR: &str = "/Mixed Case Directory";
pub const LONG_NAME: &str = "A rather long File-Name with MixedCase and spaces, v1.2.txt";

/// True when every tool is on PATH. Otherwise the test is skipped with a message, or
/// fails when CI=true.
pub fn have_tools(tier: &str, tools: &[&str]) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| !std::env::split_paths(&path).any(|dir| dir.join(t).is_file()))
        .collect();
    if missing.is_empty() {
        return true;
    }
    skip(&format!("{tier} tier: missing {}", missing.join(", ")))
}

/// Skips (returns false) with a message, or panics when CI=true.
pub fn skip(message: &str) -> bool {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message} (CI=true: a skip is a failure; scripts/setup installs it)");
    }
    eprintln!("SKIPPED: {message}");
    false
}

/// Runs a judge and returns its output, failing the test when it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Runs a judge that must succeed; returns stdout and stderr together.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{text}",
        out.status
    );
    text
}

pub struct Media {
    pub iso: PathBuf,
    pub boot: BootFiles,
    pub stats: IsoStats,
    pub spec: IsoSpec,
}

pub fn config(console: Console, timeout_seconds: u32) -> BootConfig {
    BootConfig {
        label: LABEL.into(),
        kernel: "/boot/vmlinuz".into(),
        initrd: "/boot/initrd.gz".into(),
        console,
        timeout_seconds,
        extra_args: String::new(),
    }
}

/// Rescue media in `dir` with the host's boot loaders, the given kernel and initrd, and
/// a few extra files whose names only Rock Ridge and Joliet can hold.
pub fn build(dir: &Path, cfg: &BootConfig, kernel: IsoSource, initrd: IsoSource) -> Media {
    let scratch = dir.join("scratch");
    let boot = boot::prepare(cfg, &HostPaths::host(), &RealRunner, &scratch)
        .unwrap_or_else(|e| panic!("boot::prepare: {e:#}"));
    let mut files = boot.files.clone();
    files.push((cfg.kernel.clone(), kernel));
    files.push((cfg.initrd.clone(), initrd));
    files.push((
        format!("{LONG_DIR}/{LONG_NAME}"),
        IsoSource::Bytes(b"a file with a long name\n".to_vec()),
    ));
    files.push((
        "/mountlist.json".into(),
        IsoSource::Bytes(b"{\"version\": 1}\n".to_vec()),
    ));
    let spec = IsoSpec {
        volume_id: LABEL.into(),
        files,
        bios: boot.bios.clone(),
        uefi: boot.uefi.clone(),
        hybrid: true,
        publisher: "MKRESCUE TESTS".into(),
        mtime: 1_700_000_000,
    };
    let out = dir.join("rescue-1.iso");
    let stats = iso::write_iso(&spec, &out).unwrap_or_else(|e| panic!("write_iso: {e:#}"));
    Media {
        iso: out,
        boot,
        stats,
        spec,
    }
}

/// The host has both boot loaders (the judges check both El Torito entries).
pub fn host_has_boot_loaders() -> bool {
    let paths = HostPaths::host();
    let bios = paths
        .syslinux_dirs
        .iter()
        .any(|d| d.join("isolinux.bin").is_file());
    let uefi = paths
        .grub_efi_dirs
        .iter()
        .any(|d| d.join("linux.mod").is_file());
    if bios && uefi {
        return true;
    }
    skip("boot loaders missing: install isolinux, syslinux-common, grub-efi-amd64-bin")
}

/// Extracts `iso_path` from the image to `to` with xorriso.
pub fn extract(iso: &Path, iso_path: &str, to: &Path) {
    run_ok(
        Command::new("xorriso")
            .args(["-osirrox", "on", "-indev"])
            .arg(iso)
            .args(["-extract", iso_path])
            .arg(to),
    );
}
