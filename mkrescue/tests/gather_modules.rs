//! Kernel modules on a real kernel: Debian's cloud kernel, fetched and unpacked by
//! scripts/test-kernel (cached). Judges: depmod (kmod) on a copy of what was gathered, and
//! the xz and zstd programs for compressed modules.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use mkrescue::gather::{find_kernel, gather_modules, KernelSpec, ModuleReport, BUILTIN_SET};
use mkrescue::initramfs::tree::{Kind, Source, Tree};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips (returns None) with a message, or fails in CI.
fn skip(why: &str) -> Option<PathBuf> {
    assert!(!in_ci(), "CI=true and this test cannot run: {why}");
    eprintln!("skipping: {why}");
    None
}

fn test_kernel() -> Option<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = match Command::new(repo.join("scripts/test-kernel"))
        .current_dir(repo)
        .output()
    {
        Ok(o) => o,
        Err(e) => return skip(&format!("cannot run scripts/test-kernel: {e}")),
    };
    if !out.status.success() {
        return skip(&format!(
            "scripts/test-kernel failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Some(PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()))
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn spec_for(kernel: &Path, modules: &Path) -> KernelSpec {
    find_kernel(
        Some(&kernel.join("vmlinuz")),
        Some(modules),
        Path::new("/nonexistent/boot"),
        Path::new("/nonexistent/lib/modules"),
        "0.0.0",
    )
    .unwrap()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The bytes of a file in the tree, following symlinked parents.
fn tree_bytes(tree: &Tree, path: &str) -> Vec<u8> {
    match &tree
        .get(path)
        .unwrap_or_else(|| panic!("{path} not in tree"))
        .kind
    {
        Kind::File(Source::Bytes(b)) => b.clone(),
        Kind::File(Source::Host(p)) => std::fs::read(p).unwrap(),
        other => panic!("{path} is {other:?}"),
    }
}

/// Writes the tree's /lib/modules/RELEASE into `dest` (files only).
fn extract_modules(tree: &Tree, release: &str, dest: &Path) {
    let prefix = PathBuf::from(format!("lib/modules/{release}"));
    for (path, entry) in tree.iter() {
        let Ok(rel) = path.strip_prefix(&prefix) else {
            continue;
        };
        let out = dest.join(rel);
        match &entry.kind {
            Kind::Dir => std::fs::create_dir_all(&out).unwrap(),
            Kind::File(Source::Bytes(b)) => {
                std::fs::create_dir_all(out.parent().unwrap()).unwrap();
                std::fs::write(&out, b).unwrap();
            }
            Kind::File(Source::Host(p)) => {
                std::fs::create_dir_all(out.parent().unwrap()).unwrap();
                std::fs::copy(p, &out).unwrap();
            }
            other => panic!("unexpected {other:?} at {}", path.display()),
        }
    }
}

fn included(r: &ModuleReport) -> BTreeSet<&str> {
    r.included.iter().map(String::as_str).collect()
}

#[test]
fn the_closure_holds_every_dependency_and_builtins_are_not_missing() {
    let Some(k) = test_kernel() else { return };
    let spec = spec_for(&k, &k.join("modules"));
    assert!(spec.warnings.is_empty(), "{:?}", spec.warnings);
    let mut tree = Tree::new();
    let wanted = strings(&[
        "isofs",
        "ext4",
        "virtio-blk",
        "sr_mod",
        "xfs",
        "btrfs",
        "vfat",
        "no_such_module_xyz",
    ]);
    let report = gather_modules(&spec, &wanted, Path::new("/nonexistent"), &mut tree).unwrap();
    let inc = included(&report);
    for m in [
        "isofs",
        "cdrom",
        "virtio_blk",
        "sr_mod",
        "scsi_mod",
        "xfs",
        "btrfs",
        "vfat",
        "fat",
    ] {
        assert!(inc.contains(m), "{m} missing from {inc:?}");
    }
    // Dependencies named in each module's .modinfo (depends=).
    for (module, deps) in [
        ("virtio_blk", &["virtio", "virtio_ring"][..]),
        ("xfs", &["libcrc32c"][..]),
        (
            "btrfs",
            &["zstd_compress", "raid6_pq", "xor", "libcrc32c"][..],
        ),
    ] {
        for d in deps {
            let builtin = report.builtin.iter().any(|b| b == d);
            assert!(
                inc.contains(d) || builtin,
                "{module} needs {d}: not in {inc:?}"
            );
        }
    }
    // ext4 is built into Debian's cloud kernel; where it is a module its deps come along.
    if report.builtin.iter().any(|b| b == "ext4") {
        assert!(!inc.contains("ext4"));
    } else {
        for d in ["ext4", "jbd2", "mbcache", "crc16"] {
            assert!(inc.contains(d), "{d} missing from {inc:?}");
        }
    }
    assert_eq!(report.missing, vec!["no_such_module_xyz".to_string()]);
    // Soft dependencies (btrfs: "pre: blake2b-256 ..." names an alias) are followed.
    let blake = k.join("modules/kernel/crypto/blake2b_generic.ko");
    if blake.is_file() {
        assert!(inc.contains("blake2b_generic"), "{inc:?}");
    }
    // Modules land under /lib/modules/RELEASE as .ko with their relative path.
    assert!(tree.contains(format!(
        "/lib/modules/{}/kernel/fs/isofs/isofs.ko",
        spec.release
    )));
    let dep = String::from_utf8(tree_bytes(
        &tree,
        &format!("/lib/modules/{}/modules.dep", spec.release),
    ))
    .unwrap();
    assert!(
        dep.contains("kernel/fs/isofs/isofs.ko: kernel/drivers/cdrom/cdrom.ko\n"),
        "{dep}"
    );
    assert!(report.bytes > 0);
    // Never every module.
    assert!(
        report.included.len() < 60,
        "{} modules",
        report.included.len()
    );
}

#[test]
fn filesystem_types_and_aliases_resolve() {
    let Some(k) = test_kernel() else { return };
    let spec = spec_for(&k, &k.join("modules"));
    let mut tree = Tree::new();
    let report = gather_modules(
        &spec,
        &strings(&["iso9660", "fs-vfat", "crypto-crc32c"]),
        Path::new("/nonexistent"),
        &mut tree,
    )
    .unwrap();
    let inc = included(&report);
    assert!(inc.contains("isofs"), "{report:?}");
    assert!(inc.contains("vfat"), "{report:?}");
    // crc32c_generic is built in: an alias of a built-in module is not missing.
    assert!(report.missing.is_empty(), "{report:?}");
}

#[test]
fn the_generated_modules_dep_is_what_depmod_writes() {
    let Some(k) = test_kernel() else { return };
    if !have("depmod") {
        skip("depmod (kmod) is not installed");
        return;
    }
    let spec = spec_for(&k, &k.join("modules"));
    let mut tree = Tree::new();
    let mut wanted = strings(BUILTIN_SET);
    wanted.extend(strings(&[
        "isofs",
        "ext4",
        "virtio_blk",
        "sr_mod",
        "virtio_net",
    ]));
    let report = gather_modules(&spec, &wanted, Path::new("/nonexistent"), &mut tree).unwrap();
    eprintln!(
        "BUILTIN_SET closure on {}: {} modules, {} bytes; built in: {:?}; missing: {:?}",
        spec.release,
        report.included.len(),
        report.bytes,
        report.builtin,
        report.missing
    );

    let ours = tempfile::tempdir().unwrap();
    let dir = ours.path().join("lib/modules").join(&spec.release);
    extract_modules(&tree, &spec.release, &dir);
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let (dep, alias, softdep) = (
        read("modules.dep"),
        read("modules.alias"),
        read("modules.softdep"),
    );
    // depmod on the same files (our modules.order decides its line order, as on a host).
    for generated in ["modules.dep", "modules.alias", "modules.softdep"] {
        std::fs::remove_file(dir.join(generated)).unwrap();
    }
    let conf = ours.path().join("depmod.d");
    std::fs::create_dir_all(&conf).unwrap();
    let out = Command::new("depmod")
        .arg("-b")
        .arg(ours.path())
        .arg("-C")
        .arg(&conf)
        .arg(&spec.release)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "depmod: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Comment lines differ between kmod versions.
    let lines = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        lines(&dep),
        lines(&read("modules.dep")),
        "modules.dep differs"
    );
    assert_eq!(
        lines(&alias),
        lines(&read("modules.alias")),
        "modules.alias differs"
    );
    assert_eq!(
        lines(&softdep),
        lines(&read("modules.softdep")),
        "modules.softdep differs"
    );
    assert_eq!(dep.lines().count(), report.included.len());
}

#[test]
fn a_host_modules_dep_gives_the_same_closure() {
    let Some(k) = test_kernel() else { return };
    if !have("depmod") {
        skip("depmod (kmod) is not installed");
        return;
    }
    let spec = spec_for(&k, &k.join("modules"));
    let wanted = strings(&["btrfs", "sr_mod", "virtio_scsi", "usbhid"]);
    let mut tree = Tree::new();
    let first = gather_modules(&spec, &wanted, Path::new("/nonexistent"), &mut tree).unwrap();

    // A copy of just those modules, with a modules.dep written by depmod, as on a host.
    let host = tempfile::tempdir().unwrap();
    let dir = host.path().join("lib/modules").join(&spec.release);
    extract_modules(&tree, &spec.release, &dir);
    std::fs::remove_file(dir.join("modules.dep")).unwrap();
    let status = Command::new("depmod")
        .arg("-b")
        .arg(host.path())
        .arg(&spec.release)
        .status()
        .unwrap();
    assert!(status.success());
    let spec2 = spec_for(&k, &dir);
    let mut tree2 = Tree::new();
    let second = gather_modules(&spec2, &wanted, Path::new("/nonexistent"), &mut tree2).unwrap();
    assert_eq!(included(&first), included(&second));
    assert_eq!(
        tree_bytes(&tree, &format!("/lib/modules/{}/modules.dep", spec.release)),
        tree_bytes(
            &tree2,
            &format!("/lib/modules/{}/modules.dep", spec.release)
        ),
    );
}

#[test]
fn compressed_modules_come_out_byte_identical() {
    let Some(k) = test_kernel() else { return };
    if !have("xz") || !have("zstd") {
        skip("the xz and zstd programs are needed");
        return;
    }
    let src = k.join("modules");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("modules");
    let isofs = "kernel/fs/isofs/isofs.ko";
    let cdrom = "kernel/drivers/cdrom/cdrom.ko";
    for rel in [isofs, cdrom] {
        std::fs::create_dir_all(dir.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(src.join(rel), dir.join(rel)).unwrap();
    }
    for f in [
        "modules.order",
        "modules.builtin",
        "modules.builtin.modinfo",
    ] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    // As distributions ship them: xz with CRC32 (the kernel's own `make modules_install`
    // way) and zstd.
    assert!(Command::new("xz")
        .args(["--check=crc32", "--lzma2=dict=1MiB", "-q"])
        .arg(dir.join(isofs))
        .status()
        .unwrap()
        .success());
    assert!(Command::new("zstd")
        .args(["-q", "--rm"])
        .arg(dir.join(cdrom))
        .status()
        .unwrap()
        .success());
    assert!(dir.join(format!("{isofs}.xz")).is_file());
    assert!(dir.join(format!("{cdrom}.zst")).is_file());

    let spec = spec_for(&k, &dir);
    let mut tree = Tree::new();
    let report = gather_modules(&spec, &strings(&["isofs"]), Path::new("/x"), &mut tree).unwrap();
    assert_eq!(
        included(&report),
        ["cdrom", "isofs"].into_iter().collect::<BTreeSet<_>>()
    );
    let base = format!("/lib/modules/{}", spec.release);
    for rel in [isofs, cdrom] {
        assert_eq!(
            tree_bytes(&tree, &format!("{base}/{rel}")),
            std::fs::read(src.join(rel)).unwrap(),
            "{rel}"
        );
        assert!(!tree.contains(format!("{base}/{rel}.xz")));
    }
    let dep = String::from_utf8(tree_bytes(&tree, &format!("{base}/modules.dep"))).unwrap();
    // modules.order puts fs/ before drivers/, and depmod keeps that order.
    assert_eq!(dep, format!("{isofs}: {cdrom}\n{cdrom}:\n"));
}

#[test]
fn firmware_named_by_modinfo_is_copied_and_decompressed() {
    let Some(k) = test_kernel() else { return };
    let spec = spec_for(&k, &k.join("modules"));
    // ni_pcidio asks for niscrb02.bin, niscrb01.bin and ni6534a.bin.
    if !k
        .join("modules/kernel/drivers/comedi/drivers/ni_pcidio.ko")
        .is_file()
    {
        skip("this kernel has no ni_pcidio module");
        return;
    }
    let fw = tempfile::tempdir().unwrap();
    let plain = b"plain firmware".to_vec();
    let packed: Vec<u8> = (0..50_000u32).flat_map(|i| (i % 7).to_le_bytes()).collect();
    std::fs::write(fw.path().join("niscrb02.bin"), &plain).unwrap();
    let mut enc = liblzma::write::XzEncoder::new(Vec::new(), 6);
    std::io::Write::write_all(&mut enc, &packed).unwrap();
    std::fs::write(fw.path().join("niscrb01.bin.xz"), enc.finish().unwrap()).unwrap();

    let mut tree = Tree::new();
    let report = gather_modules(&spec, &strings(&["ni_pcidio"]), fw.path(), &mut tree).unwrap();
    assert_eq!(
        report.firmware.iter().collect::<BTreeSet<_>>(),
        ["niscrb01.bin", "niscrb02.bin"]
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
            .iter()
            .collect()
    );
    assert_eq!(report.firmware_missing, vec!["ni6534a.bin".to_string()]);
    assert_eq!(tree_bytes(&tree, "/lib/firmware/niscrb02.bin"), plain);
    assert_eq!(tree_bytes(&tree, "/lib/firmware/niscrb01.bin"), packed);
}

#[test]
fn the_test_kernel_is_found_by_its_header_and_a_mismatch_warns() {
    let Some(k) = test_kernel() else { return };
    let release = std::fs::read_to_string(k.join("release")).unwrap();
    let release = release.trim();
    // --kernel alone: the release from the header, modules from lib_modules/RELEASE.
    let lib = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(k.join("modules"), lib.path().join(release)).unwrap();
    let spec = find_kernel(
        Some(&k.join("vmlinuz")),
        None,
        Path::new("/nonexistent"),
        lib.path(),
        "6.18.0-running",
    )
    .unwrap();
    assert_eq!(spec.release, release);
    assert_eq!(spec.modules_dir, lib.path().join(release));
    assert!(spec.warnings.is_empty(), "{:?}", spec.warnings);

    // The same modules for another kernel: a warning, not an error.
    let other = tempfile::tempdir().unwrap();
    let mut img = vec![0u8; 0x1000];
    img[0x202..0x206].copy_from_slice(b"HdrS");
    img[0x206..0x208].copy_from_slice(&0x020Fu16.to_le_bytes());
    img[0x20E..0x210].copy_from_slice(&0x200u16.to_le_bytes());
    img[0x400..0x40A].copy_from_slice(b"9.9.9-test");
    std::fs::write(other.path().join("bzImage"), &img).unwrap();
    let spec = find_kernel(
        Some(&other.path().join("bzImage")),
        Some(&k.join("modules")),
        Path::new("/nonexistent"),
        lib.path(),
        "6.18.0-running",
    )
    .unwrap();
    assert_eq!(spec.release, "9.9.9-test");
    assert_eq!(spec.warnings.len(), 1, "{:?}", spec.warnings);
    assert!(spec.warnings[0].contains(release), "{:?}", spec.warnings);
}
