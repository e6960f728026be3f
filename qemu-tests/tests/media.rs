//! The media `mkrescue create` writes, judged without booting: the initramfs as GNU cpio
//! lists it, every ELF file in it with its libraries inside, reproducibility, size, and
//! refusals of bad input.

use goblin::elf::Elf;
use qemu_tests::{media, mkrescue_bin, require_qemu, test_kernel};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Copies one file out of the ISO with xorriso.
fn extract(iso: &Path, path: &str, to: &Path) {
    run(Command::new("xorriso")
        .args(["-osirrox", "on", "-indev"])
        .arg(iso)
        .args(["-extract", path])
        .arg(to));
}

fn initrd_of(iso: &Path, dir: &Path) -> PathBuf {
    let initrd = dir.join("initrd.gz");
    extract(iso, "/boot/initrd.gz", &initrd);
    initrd
}

#[test]
fn the_initramfs_holds_what_was_promised() {
    if !require_qemu() {
        return;
    }
    let media = media(&[]).unwrap();
    let work = tempfile::tempdir().unwrap();
    let initrd = initrd_of(&media.iso, work.path());
    let listing = run(Command::new("sh")
        .arg("-c")
        .arg("zcat \"$1\" | cpio -t --quiet")
        .arg("sh")
        .arg(&initrd));
    let names: BTreeSet<&str> = listing.lines().collect();
    let release = fs::read_to_string(test_kernel().unwrap().join("release")).unwrap();
    let modules = format!("usr/lib/modules/{}", release.trim());
    for want in [
        "init",
        "dev/console",
        "etc/passwd",
        "etc/rescue/mountlist.json",
        "etc/rescue/tools.json",
        "usr/sbin/mke2fs",
        "usr/sbin/mkfs.xfs",
        "usr/sbin/mkswap",
        "usr/sbin/blkid",
        "usr/bin/bash",
        "bin",
        "lib64",
    ] {
        assert!(names.contains(want), "{want} missing from the initramfs");
    }
    for want in [
        "modules.dep",
        "kernel/fs/isofs/isofs.ko",
        "kernel/drivers/block/virtio_blk.ko",
        "kernel/drivers/scsi/sr_mod.ko",
        "kernel/fs/xfs/xfs.ko",
    ] {
        let path = format!("{modules}/{want}");
        assert!(
            names.contains(path.as_str()),
            "{path} missing from the initramfs"
        );
    }
    // Lean: only the closure of what is needed, not every module of the kernel.
    let module_count = names.iter().filter(|n| n.ends_with(".ko")).count();
    assert!((20..150).contains(&module_count), "{module_count} modules");
}

#[test]
fn every_elf_file_finds_its_libraries_inside_and_init_is_static() {
    if !require_qemu() {
        return;
    }
    let media = media(&[]).unwrap();
    let work = tempfile::tempdir().unwrap();
    let initrd = initrd_of(&media.iso, work.path());
    let root = work.path().join("root");
    fs::create_dir(&root).unwrap();
    // Device nodes need root to unpack; the ELF files are what matters here.
    run(Command::new("sh")
        .arg("-c")
        .arg("zcat \"$1\" | cpio -i -d --quiet --no-absolute-filenames --nonmatching 'dev/*'")
        .arg("sh")
        .arg(&initrd)
        .current_dir(&root));

    let init = fs::read(root.join("init")).unwrap();
    let elf = Elf::parse(&init).unwrap();
    assert!(
        elf.interpreter.is_none(),
        "restore-tui must have no PT_INTERP"
    );
    assert!(
        elf.libraries.is_empty(),
        "restore-tui must need no libraries"
    );

    let search = ["usr/lib/x86_64-linux-gnu", "usr/lib64", "usr/lib", "lib64"];
    let mut checked = 0;
    let mut todo = vec![root.clone()];
    while let Some(dir) = todo.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                todo.push(path);
                continue;
            }
            if !meta.is_file() {
                continue;
            }
            let bytes = fs::read(&path).unwrap();
            if !bytes.starts_with(b"\x7fELF") {
                continue;
            }
            let Ok(elf) = Elf::parse(&bytes) else {
                continue;
            };
            if path.extension().is_some_and(|e| e == "ko") {
                continue;
            }
            checked += 1;
            if let Some(interp) = elf.interpreter {
                let inside = root.join(interp.trim_start_matches('/'));
                assert!(
                    inside.exists(),
                    "{}: loader {interp} missing",
                    path.display()
                );
            }
            for lib in &elf.libraries {
                let found = search.iter().any(|d| root.join(d).join(lib).exists())
                    || elf.runpaths.iter().chain(&elf.rpaths).any(|p| {
                        let p = p.replace("$ORIGIN", &path.parent().unwrap().to_string_lossy());
                        Path::new(&p).join(lib).exists()
                    });
                assert!(
                    found,
                    "{}: needs {lib}, which is not inside",
                    path.display()
                );
            }
        }
    }
    assert!(checked > 20, "only {checked} ELF files checked");
}

/// The entries of a newc archive: name -> (mode, data).
fn cpio_entries(gz: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut raw).unwrap();
    let hex = |b: &[u8]| u32::from_str_radix(std::str::from_utf8(b).unwrap(), 16).unwrap();
    let align = |n: usize| (n + 3) & !3;
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let h = &raw[at..at + 110];
        assert_eq!(&h[..6], b"070701");
        let (mode, size, namesize) = (hex(&h[14..22]), hex(&h[54..62]), hex(&h[94..102]));
        let name_start = at + 110;
        let name = String::from_utf8_lossy(&raw[name_start..name_start + namesize as usize - 1])
            .into_owned();
        let data_start = align(name_start + namesize as usize);
        if name == "TRAILER!!!" {
            return out;
        }
        out.push((
            name,
            mode,
            raw[data_start..data_start + size as usize].to_vec(),
        ));
        at = align(data_start + size as usize);
    }
}

/// Space in use on the host's filesystems changes between two runs; nothing else may.
fn without_used_bytes(json: &[u8]) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                map.remove("used_bytes");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: serde_json::Value = serde_json::from_slice(json).unwrap();
    strip(&mut v);
    v
}

#[test]
fn the_initramfs_is_reproducible_and_the_image_lean() {
    if !require_qemu() {
        return;
    }
    // Both captures of the host must see the same disks: no other test's loop disks.
    let lock = host_tests::host_lock();
    let a = media(&[]).unwrap();
    let b = media(&[]).unwrap();
    drop(lock);
    let work = tempfile::tempdir().unwrap();
    let (da, db) = (work.path().join("a"), work.path().join("b"));
    fs::create_dir(&da).unwrap();
    fs::create_dir(&db).unwrap();
    let ea = cpio_entries(&fs::read(initrd_of(&a.iso, &da)).unwrap());
    let eb = cpio_entries(&fs::read(initrd_of(&b.iso, &db)).unwrap());
    assert_eq!(ea.len(), eb.len());
    for ((na, ma, da), (nb, mb, db)) in ea.iter().zip(&eb) {
        assert_eq!((na, ma), (nb, mb), "same entries in the same order");
        if na == "etc/rescue/mountlist.json" {
            assert_eq!(without_used_bytes(da), without_used_bytes(db));
        } else {
            assert!(
                da == db,
                "{na} differs between two runs with one SOURCE_DATE_EPOCH"
            );
        }
    }
    let size = fs::metadata(&a.iso).unwrap().len();
    assert!(size < 100 << 20, "the boot-only image is {size} bytes");
}

fn create_error(extra: &[&str]) -> String {
    let out = tempfile::tempdir().unwrap();
    let result = Command::new(mkrescue_bin().unwrap())
        .args(["create", "--no-backup", "--output"])
        .arg(out.path())
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr).into_owned();
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !out.path().join("rescue-1.iso").exists(),
        "nothing under the final name after a failure"
    );
    stderr
}

#[test]
fn refuses_a_dynamic_restore_tui_and_a_missing_kernel() {
    if !require_qemu() {
        return;
    }
    let kernel = test_kernel().unwrap();
    let stderr = create_error(&[
        "--kernel",
        kernel.join("vmlinuz").to_str().unwrap(),
        "--modules-dir",
        kernel.join("modules").to_str().unwrap(),
        "--restore-tui",
        "/usr/bin/bash",
    ]);
    assert!(stderr.contains("must be static"), "{stderr}");

    let stderr = create_error(&["--kernel", "/nonexistent/vmlinuz"]);
    assert!(stderr.contains("/nonexistent/vmlinuz"), "{stderr}");
    assert!(stderr.contains("--kernel"), "{stderr}");
}
