//! What a boot test needs: QEMU and OVMF, the test kernel, mkrescue, a static restore-tui,
//! and rescue media built from them.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Rescue media made for a test, removed with it.
#[derive(Debug)]
pub struct Media {
    pub iso: PathBuf,
    pub label: String,
    pub dir: tempfile::TempDir,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate sits in the workspace")
        .to_path_buf()
}

/// True when QEMU and OVMF are installed. Otherwise prints why the test is skipped, and
/// with CI=true fails instead: CI must run this tier.
pub fn require_qemu() -> bool {
    let missing: Vec<&str> = [
        "/usr/bin/qemu-system-x86_64",
        "/usr/share/OVMF/OVMF_CODE_4M.fd",
        "/usr/share/OVMF/OVMF_VARS_4M.fd",
    ]
    .into_iter()
    .filter(|p| !Path::new(p).exists())
    .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI must run the qemu tier, but {missing:?} are missing (scripts/setup installs them)"
    );
    eprintln!("skipped: {missing:?} missing (run scripts/setup)");
    false
}

fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The test kernel's directory (vmlinuz, modules/), fetched once and cached.
pub fn test_kernel() -> anyhow::Result<PathBuf> {
    let dir = run(&mut Command::new(workspace().join("scripts/test-kernel")))?;
    Ok(PathBuf::from(dir.trim()))
}

/// mkrescue as scripts/test built it (MKRESCUE_BIN), else built now.
pub fn mkrescue_bin() -> anyhow::Result<PathBuf> {
    if let Ok(p) = std::env::var("MKRESCUE_BIN") {
        return Ok(PathBuf::from(p));
    }
    run(Command::new("cargo")
        .args(["build", "--quiet", "-p", "mkrescue"])
        .current_dir(workspace()))?;
    Ok(workspace().join("target/debug/mkrescue"))
}

/// The static restore-tui (RESTORE_TUI_BIN), else built now.
pub fn restore_tui_bin() -> anyhow::Result<PathBuf> {
    if let Ok(p) = std::env::var("RESTORE_TUI_BIN") {
        return Ok(PathBuf::from(p));
    }
    run(Command::new("cargo")
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "x86_64-unknown-linux-gnu",
            "-p",
            "restore-tui",
        ])
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .current_dir(workspace()))?;
    Ok(workspace().join("target/x86_64-unknown-linux-gnu/release/restore-tui"))
}

/// `mkrescue create` backing up `root` into `out` with the test kernel, its modules and
/// the static restore-tui: the command every test that makes a real backup runs.
/// `mkrescue` is the binary: the host tests pass `host_tests::mkrescue_bin()` (checked
/// against its sources), the QEMU tests [`mkrescue_bin`]. PATH has the sbin directories
/// first (mkrescue runs sfdisk, blkid and the like, missing from a plain user's PATH on
/// Debian), then the caller's. Callers add their own options, run it and judge the
/// outcome. Panics when the test kernel or restore-tui cannot be had.
pub fn mkrescue_create(mkrescue: &Path, root: &Path, out: &Path) -> Command {
    let kernel = test_kernel().unwrap_or_else(|e| panic!("the test kernel: {e:#}"));
    let restore_tui = restore_tui_bin().unwrap_or_else(|e| panic!("restore-tui: {e:#}"));
    let mut path = String::from("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    if let Some(caller) = std::env::var("PATH").ok().filter(|p| !p.is_empty()) {
        path = format!("{path}:{caller}");
    }
    let mut cmd = Command::new(mkrescue);
    cmd.arg("create")
        .arg("--root")
        .arg(root)
        .arg("--output")
        .arg(out)
        .arg("--kernel")
        .arg(kernel.join("vmlinuz"))
        .arg("--modules-dir")
        .arg(kernel.join("modules"))
        .arg("--restore-tui")
        .arg(restore_tui)
        .env("PATH", path);
    cmd
}

/// Boot-only media of this host for the test kernel, with the serial console as default,
/// a short menu timeout and a fixed SOURCE_DATE_EPOCH.
pub fn media(extra: &[&str]) -> anyhow::Result<Media> {
    let kernel = test_kernel()?;
    let dir = tempfile::tempdir().context("making a directory for the media")?;
    let out = run(Command::new(mkrescue_bin()?)
        .args(["create", "--no-backup", "--json", "--console", "serial"])
        // Reproducible media: the same id and times in every test.
        .env("SOURCE_DATE_EPOCH", "1763700000")
        .args(["--boot-timeout", "1"])
        .arg("--output")
        .arg(dir.path())
        .arg("--kernel")
        .arg(kernel.join("vmlinuz"))
        .arg("--modules-dir")
        .arg(kernel.join("modules"))
        .arg("--restore-tui")
        .arg(restore_tui_bin()?)
        .args(extra))?;
    let summary: serde_json::Value =
        serde_json::from_str(&out).with_context(|| format!("mkrescue's summary:\n{out}"))?;
    let label = summary["label"]
        .as_str()
        .with_context(|| format!("no label in mkrescue's summary:\n{out}"))?
        .to_string();
    Ok(Media {
        iso: dir.path().join("rescue-1.iso"),
        label,
        dir,
    })
}
