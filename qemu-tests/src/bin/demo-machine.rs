//! `demo-machine uefi|bios WORKDIR`: builds one of the rehearsal suite's source machines
//! (`qemu_tests::machines`) for scripts/demo, leaves its disk image at `WORKDIR/<kind>.img`
//! detached, and prints how to mount it, one line each:
//!
//! ```text
//! image /var/tmp/mkrescue-demo/uefi.img
//! mount 2 / ext4
//! mount 3 /home ext4
//! ```
//!
//! (partition number, mount point, type; parents first; the ESP is left out, as this
//! host's kernel may have no vfat).

use anyhow::{bail, Context};
use qemu_tests::machines::{build, Kind, MachineOptions};
use std::path::PathBuf;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (kind, work) = match args.as_slice() {
        [k, w] if k == "uefi" => (Kind::Uefi, PathBuf::from(w)),
        [k, w] if k == "bios" => (Kind::Bios, PathBuf::from(w)),
        _ => bail!("usage: demo-machine uefi|bios WORKDIR"),
    };
    std::fs::create_dir_all(&work).with_context(|| format!("making {}", work.display()))?;
    let lock = host_tests::host_lock();
    let opts = MachineOptions {
        corpus_bytes: 8 << 20,
        ..MachineOptions::default()
    };
    let mut machine = build(kind, &work, &opts, &lock)?;
    let mut mounts: Vec<_> = machine
        .volumes()
        .iter()
        .filter(|v| v.mount_point.starts_with('/') && v.fs_type != "vfat")
        .map(|v| (v.number, v.mount_point.clone(), v.fs_type.clone()))
        .collect();
    mounts.sort_by_key(|(_, mp, _)| mp.len());
    machine.detach();
    println!("image {}", machine.image().display());
    for (number, mp, fs_type) in mounts {
        println!("mount {number} {mp} {fs_type}");
    }
    Ok(())
}
