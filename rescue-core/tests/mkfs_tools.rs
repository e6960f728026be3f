//! Real mkfs programs on sparse image files (unprivileged): the smallest filesystem each
//! makes is what `mountlist::mkfs_minimum` says, and a failing mkfs.xfs is reported with
//! its reason (the first line of its stderr), not only the end of its usage text.
//!
//! A missing program skips its case with a message; with CI=true that is a failure.

use rescue_core::mountlist::mkfs_minimum::mkfs_minimum_bytes;
use rescue_core::mountlist::{Filesystem, FsType};
use rescue_core::runner::{find_program, Cmd, RealRunner, RunError, Runner};
use std::fs::File;
use std::path::Path;

fn have(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if find_program(program, &path).is_some() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI needs {program}"
    );
    eprintln!("skipped: {program} is missing");
    false
}

fn image(dir: &Path, bytes: u64) -> std::path::PathBuf {
    let path = dir.join(format!("{bytes}.img"));
    File::create(&path).unwrap().set_len(bytes).unwrap();
    path
}

#[test]
fn a_failing_mkfs_xfs_names_its_reason_not_only_its_usage() {
    if !have("mkfs.xfs") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path(), 100 * 1000 * 1000);
    let cmd = Cmd::new("mkfs.xfs").arg(&img);
    let err = RealRunner.run(&cmd).unwrap_err();
    let RunError::Failed { stderr_tail, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(
        stderr_tail.starts_with("Filesystem must be larger than 300MB.\n"),
        "{stderr_tail}"
    );
    // Its usage text follows, cut short.
    assert!(stderr_tail.contains("\n...\n"), "{stderr_tail}");
    let msg = err.to_string();
    assert!(
        msg.contains("Filesystem must be larger than 300MB."),
        "{msg}"
    );
    assert!(msg.len() < cmd.to_string().len() + 2200, "{}", msg.len());
}

/// One mkfs run as the restore makes the filesystem (`args` before the image).
struct Case {
    fs_type: FsType,
    features: &'static [&'static str],
    block_size: Option<u32>,
    fat_bits: Option<u8>,
    sector_size: Option<u32>,
    program: &'static str,
    args: &'static [&'static str],
    /// Output that means mkfs made less than it was asked for.
    shortfall: Option<&'static str>,
}

impl Case {
    fn minimum(&self) -> u64 {
        let mut fs = Filesystem::new(self.fs_type.clone());
        fs.params.block_size = self.block_size;
        fs.params.features = self.features.iter().map(|f| f.to_string()).collect();
        fs.params.fat_bits = self.fat_bits;
        fs.params.sector_size = self.sector_size;
        mkfs_minimum_bytes(&fs).unwrap()
    }

    /// mkfs on an image of `bytes` made what it was asked for.
    fn makes(&self, dir: &Path, bytes: u64) -> bool {
        let img = image(dir, bytes);
        let out = std::process::Command::new(self.program)
            .args(self.args)
            .arg(&img)
            .output()
            .unwrap();
        std::fs::remove_file(&img).unwrap();
        let said = String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout);
        out.status.success() && self.shortfall.is_none_or(|s| !said.contains(s))
    }
}

#[test]
fn the_smallest_filesystems_are_what_each_mkfs_makes_at_least() {
    let case = |fs_type, program, args, shortfall| Case {
        fs_type,
        features: &[],
        block_size: None,
        fat_bits: None,
        sector_size: None,
        program,
        args,
        shortfall,
    };
    let journal = Some("too small for a journal");
    let cases = [
        Case {
            block_size: Some(4096),
            ..case(FsType::Ext2, "mkfs.ext2", &["-F", "-q", "-b", "4096"], None)
        },
        Case {
            block_size: Some(1024),
            ..case(FsType::Ext2, "mkfs.ext2", &["-F", "-q", "-b", "1024"], None)
        },
        Case {
            block_size: Some(4096),
            ..case(
                FsType::Ext4,
                "mkfs.ext4",
                &["-F", "-q", "-b", "4096"],
                journal,
            )
        },
        Case {
            block_size: Some(4096),
            features: &["extent"],
            ..case(
                FsType::Ext4,
                "mkfs.ext4",
                &["-F", "-q", "-b", "4096", "-O", "none,extent"],
                None,
            )
        },
        Case {
            block_size: Some(1024),
            ..case(
                FsType::Ext3,
                "mkfs.ext3",
                &["-F", "-q", "-b", "1024"],
                journal,
            )
        },
        case(FsType::Xfs, "mkfs.xfs", &["-f", "-q"], None),
        case(FsType::Btrfs, "mkfs.btrfs", &["-f", "-q"], None),
        Case {
            fat_bits: Some(16),
            ..case(FsType::Vfat, "mkfs.vfat", &["-F", "16"], None)
        },
        Case {
            fat_bits: Some(32),
            ..case(FsType::Vfat, "mkfs.vfat", &["-F", "32"], None)
        },
        Case {
            fat_bits: Some(16),
            sector_size: Some(4096),
            ..case(FsType::Vfat, "mkfs.vfat", &["-F", "16", "-S", "4096"], None)
        },
        case(FsType::Swap, "mkswap", &[], None),
    ];
    let dir = tempfile::tempdir().unwrap();
    for c in &cases {
        if !have(c.program) {
            continue;
        }
        let least = c.minimum();
        let what = format!("{} {:?} at {least} bytes", c.program, c.args);
        assert!(c.makes(dir.path(), least), "{what}: refused");
        assert!(
            !c.makes(dir.path(), least - 1024),
            "{what}: 1 KiB less made one"
        );
    }
}
