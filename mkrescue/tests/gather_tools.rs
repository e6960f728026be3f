//! Tools and their shared libraries (tools tier: gcc, ldd and ldconfig are the judges;
//! mkrescue itself never runs ldd).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use goblin::elf::Elf;
use mkrescue::gather::elf::is_static;
use mkrescue::gather::ldcache::LdCache;
use mkrescue::gather::tools::LibResolver;
use mkrescue::gather::{gather_files, gather_tools, DEFAULT_TOOLS, OPTIONAL_TOOLS};
use mkrescue::initramfs::tree::{Kind, Source, Tree};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn skip(why: &str) {
    assert!(!in_ci(), "CI=true and this test cannot run: {why}");
    eprintln!("skipping: {why}");
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// Follows symlinks inside the tree (parents and the last component) to a regular file.
fn tree_file(tree: &Tree, path: &Path) -> Option<PathBuf> {
    let mut p = lexical(path);
    for _ in 0..40 {
        let rel = tree.resolve_parents(&p).ok()?;
        let abs = Path::new("/").join(&rel);
        match &tree.get(&abs)?.kind {
            Kind::File(_) => return Some(abs),
            Kind::Symlink(target) => {
                p = if target.is_absolute() {
                    lexical(target)
                } else {
                    lexical(&abs.parent().unwrap().join(target))
                };
            }
            _ => return None,
        }
    }
    None
}

fn contents(source: &Source) -> Vec<u8> {
    match source {
        Source::Host(p) => std::fs::read(p).unwrap(),
        Source::Bytes(b) => b.clone(),
    }
}

/// `ldconfig -p`: (name, description without hwcap/OS ABI, path), in its order.
fn ldconfig_p() -> Option<Vec<(String, String, String)>> {
    let out = Command::new("ldconfig").arg("-p").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let mut v = Vec::new();
    for line in text.lines().filter(|l| l.starts_with('\t')) {
        let (left, path) = line.trim().split_once(" => ").unwrap();
        let (name, desc) = left.split_once(" (").unwrap();
        let desc = desc.trim_end_matches(')');
        let desc = desc.split(", ").next().unwrap();
        v.push((name.to_string(), desc.to_string(), path.to_string()));
    }
    Some(v)
}

/// `ldd PROGRAM` as name -> path (and the loader under its own path as name).
fn ldd(program: &Path) -> BTreeMap<String, Option<String>> {
    let out = Command::new("ldd").arg(program).output().unwrap();
    assert!(out.status.success(), "ldd {}", program.display());
    let mut libs = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let line = line.trim();
        if let Some((name, rest)) = line.split_once(" => ") {
            let path = rest.split(" (").next().unwrap().trim();
            let path = (path != "not found").then(|| path.to_string());
            libs.insert(name.to_string(), path);
        } else if line.starts_with('/') {
            let p = line.split(" (").next().unwrap().to_string();
            libs.insert(p.clone(), Some(p));
        }
    }
    libs
}

/// What our resolver says, in ldd's shape.
fn ours(program: &Path) -> BTreeMap<String, Option<String>> {
    let closure = LibResolver::new(Path::new("/"))
        .unwrap()
        .closure(program)
        .unwrap();
    let mut libs: BTreeMap<String, Option<String>> = closure
        .libs
        .iter()
        .map(|(n, p)| (n.clone(), Some(p.display().to_string())))
        .collect();
    for (n, _) in closure.unresolved {
        libs.insert(n, None);
    }
    if let Some(i) = closure.interp {
        let i = i.display().to_string();
        libs.insert(i.clone(), Some(i));
    }
    libs
}

#[test]
fn every_gathered_elf_file_finds_its_libraries_and_loader_in_the_tree() {
    let Some(cache) = ldconfig_p() else {
        return skip("ldconfig is not installed");
    };
    let cache: BTreeMap<String, String> = cache.into_iter().map(|(n, _, p)| (n, p)).collect();
    let mut tree = Tree::new();
    let report = gather_tools(Path::new("/"), DEFAULT_TOOLS, &mut tree).unwrap();
    let optional = gather_tools(Path::new("/"), OPTIONAL_TOOLS, &mut tree).unwrap();
    eprintln!(
        "DEFAULT_TOOLS: {} found, {} files, {} bytes, {} symlinks; missing {:?}; \
         OPTIONAL_TOOLS: {} files, {} bytes",
        report.found.len(),
        report.files,
        report.bytes,
        report.symlinks,
        report.missing,
        optional.files,
        optional.bytes
    );
    assert!(report.unresolved.is_empty(), "{:?}", report.unresolved);
    for must in [
        "sh",
        "bash",
        "mke2fs",
        "mkfs.ext4",
        "mount",
        "blkid",
        "sfdisk",
        "kmod",
    ] {
        let at = report
            .found
            .get(must)
            .unwrap_or_else(|| panic!("{must} not found"));
        assert!(tree_file(&tree, Path::new(at)).is_some(), "{must} at {at}");
    }
    // Merged /usr: the top-level links come along as links.
    for link in ["bin", "sbin", "lib", "lib64"] {
        if std::fs::symlink_metadata(Path::new("/").join(link)).is_ok_and(|m| m.is_symlink()) {
            assert!(
                matches!(
                    tree.get(Path::new("/").join(link)).unwrap().kind,
                    Kind::Symlink(_)
                ),
                "/{link}"
            );
        }
    }
    // mkfs.ext4 stays a link to mke2fs.
    let mkfs = tree.get(&report.found["mkfs.ext4"]).unwrap();
    assert!(matches!(mkfs.kind, Kind::Symlink(_)), "{mkfs:?}");

    let defaults = [
        "/lib64",
        "/usr/lib64",
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib",
        "/usr/lib",
    ];
    let mut elf_files = 0;
    for (path, entry) in tree.iter() {
        let Kind::File(source) = &entry.kind else {
            continue;
        };
        let data = contents(source);
        if !data.starts_with(b"\x7fELF") {
            continue;
        }
        elf_files += 1;
        let abs = Path::new("/").join(path);
        let elf = Elf::parse(&data).unwrap_or_else(|e| panic!("{}: {e}", abs.display()));
        if let Some(interp) = elf.interpreter {
            assert!(
                tree_file(&tree, Path::new(interp)).is_some(),
                "{}: loader {interp} not in the tree",
                abs.display()
            );
        }
        let origin = abs.parent().unwrap().display().to_string();
        let search: Vec<String> = elf
            .rpaths
            .iter()
            .chain(&elf.runpaths)
            .flat_map(|s| s.split(':'))
            .map(|d| d.replace("${ORIGIN}", &origin).replace("$ORIGIN", &origin))
            .chain(defaults.iter().map(|d| d.to_string()))
            .collect();
        for needed in &elf.libraries {
            let found = cache
                .get(*needed)
                .into_iter()
                .cloned()
                .chain(search.iter().map(|d| format!("{d}/{needed}")))
                .any(|p| tree_file(&tree, Path::new(&p)).is_some());
            assert!(found, "{}: {needed} not in the tree", abs.display());
        }
    }
    assert!(elf_files > 40, "only {elf_files} ELF files");
}

#[test]
fn library_sets_match_ldd() {
    if !have("ldd") {
        return skip("ldd is not installed");
    }
    let mut checked = 0;
    for program in [
        "/usr/sbin/mke2fs",
        "/usr/bin/bash",
        "/usr/sbin/mkfs.xfs",
        "/usr/bin/btrfs",
        "/usr/bin/kmod",
        "/usr/sbin/sfdisk",
    ] {
        let p = Path::new(program);
        if !p.exists() {
            continue;
        }
        let mut theirs = ldd(p);
        theirs.remove("linux-vdso.so.1");
        assert_eq!(ours(p), theirs, "{program}");
        checked += 1;
    }
    assert!(checked >= 2, "no programs to compare");
}

#[test]
fn ld_so_cache_agrees_with_ldconfig() {
    let Some(theirs) = ldconfig_p() else {
        return skip("ldconfig is not installed");
    };
    let cache = LdCache::read(Path::new("/"))
        .unwrap()
        .expect("no /etc/ld.so.cache");
    let ours: Vec<(String, String, String)> = cache
        .entries
        .iter()
        .map(|e| (e.name.clone(), e.describe(), e.path.display().to_string()))
        .collect();
    assert_eq!(ours.len(), theirs.len());
    assert_eq!(ours, theirs);
}

/// Builds, in `dir`: lib/libb.so; lib/liba.so (needs libb, no search path of its own);
/// bin/prog (needs liba) with `$ORIGIN/../lib` as DT_RPATH or DT_RUNPATH.
fn build_origin_case(dir: &Path, new_dtags: bool) {
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::write(dir.join("b.c"), "int b(void) { return 2; }\n").unwrap();
    std::fs::write(
        dir.join("a.c"),
        "int b(void);\nint a(void) { return b() + 1; }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("prog.c"),
        "int a(void);\nint main(void) { return a() == 3 ? 0 : 1; }\n",
    )
    .unwrap();
    let gcc = |args: &[&str]| {
        let out = Command::new("gcc")
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gcc {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    gcc(&["-shared", "-fPIC", "-o", "lib/libb.so", "b.c"]);
    gcc(&[
        "-shared",
        "-fPIC",
        "-o",
        "lib/liba.so",
        "a.c",
        "-Llib",
        "-lb",
    ]);
    let dtags = if new_dtags {
        "-Wl,--enable-new-dtags"
    } else {
        "-Wl,--disable-new-dtags"
    };
    gcc(&[
        "-o",
        "bin/prog",
        "prog.c",
        "-Llib",
        "-la",
        dtags,
        "-Wl,-rpath,$ORIGIN/../lib",
    ]);
}

#[test]
fn rpath_with_origin_resolves_and_runpath_is_not_inherited() {
    if !have("gcc") || !have("ldd") {
        return skip("gcc and ldd are needed");
    }
    let tmp = tempfile::tempdir().unwrap();

    // DT_RPATH: applies to liba's needs too (the loader's RPATH), so libb is found.
    let rpath = tmp.path().join("rpath");
    build_origin_case(&rpath, false);
    let prog = rpath.join("bin/prog");
    assert!(Command::new(&prog).status().unwrap().success());
    let mut theirs = ldd(&prog);
    theirs.remove("linux-vdso.so.1");
    let found = ours(&prog);
    assert_eq!(found, theirs);
    // As ld.so writes them: "$ORIGIN/../lib" keeps its "..".
    let lib = rpath.join("lib");
    for name in ["liba.so", "libb.so"] {
        assert_eq!(
            found[name].as_deref(),
            Some(rpath.join("bin/../lib").join(name).to_str().unwrap())
        );
    }

    let mut tree = Tree::new();
    let report = gather_files(Path::new("/"), &[prog.as_path()], &mut tree).unwrap();
    assert!(report.unresolved.is_empty(), "{:?}", report.unresolved);
    assert!(tree_file(&tree, &lib.join("liba.so")).is_some());
    assert!(tree_file(&tree, &lib.join("libb.so")).is_some());
    assert!(tree_file(&tree, &prog).is_some());

    // DT_RUNPATH: only for the program's own needs; ld.so does not find libb either.
    let runpath = tmp.path().join("runpath");
    build_origin_case(&runpath, true);
    let prog = runpath.join("bin/prog");
    let mut theirs = ldd(&prog);
    theirs.remove("linux-vdso.so.1");
    let found = ours(&prog);
    assert_eq!(found, theirs);
    assert_eq!(found["libb.so"], None);
    let mut tree = Tree::new();
    let report = gather_files(Path::new("/"), &[prog.as_path()], &mut tree).unwrap();
    assert_eq!(
        report.unresolved,
        vec![format!(
            "libb.so (needed by {})",
            runpath.join("bin/../lib/liba.so").display()
        )]
    );
}

#[test]
fn a_missing_tool_is_reported_not_an_error() {
    let mut tree = Tree::new();
    let report = gather_tools(
        Path::new("/"),
        &["no-such-tool-xyz", "sh", "also-missing|sh"],
        &mut tree,
    )
    .unwrap();
    assert_eq!(report.missing, vec!["no-such-tool-xyz".to_string()]);
    assert!(report.found.contains_key("sh"));
    let report = gather_files(Path::new("/"), &[Path::new("/no/such/file")], &mut tree).unwrap();
    assert_eq!(report.missing, vec!["/no/such/file".to_string()]);
}

#[test]
fn static_programs_are_static() {
    if !have("gcc") {
        return skip("gcc is needed");
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("hello.c"), "int main(void) { return 0; }\n").unwrap();
    for (flag, out) in [("-static", "static"), ("-static-pie", "static-pie")] {
        let o = Command::new("gcc")
            .current_dir(tmp.path())
            .args([flag, "-o", out, "hello.c"])
            .output()
            .unwrap();
        if !o.status.success() {
            // No static libc (libc6-dev ships libc.a; static-pie needs rcrt1.o).
            skip(&format!(
                "gcc {flag}: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
            continue;
        }
        assert!(is_static(&tmp.path().join(out)).unwrap(), "{flag}");
    }
    assert!(!is_static(Path::new("/usr/bin/bash")).unwrap());
    assert!(is_static(Path::new("/etc/passwd")).is_err());
}

/// A host root of our own: merged /usr, no ld.so.cache (default directories only), an
/// absolute symlink for the loader, a script tool and GRUB's folders.
#[test]
fn a_fake_root_is_read_inside_the_root_and_grub_brings_its_folders() {
    let libc = Path::new("/lib/x86_64-linux-gnu/libc.so.6");
    let ld = Path::new("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
    let dash = Path::new("/usr/bin/dash");
    if !libc.is_file() || !ld.is_file() || !dash.is_file() {
        return skip("needs Debian's x86-64 libc and dash");
    }
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    let mk = |p: &str| std::fs::create_dir_all(r.join(p)).unwrap();
    let ln = |target: &str, at: &str| std::os::unix::fs::symlink(target, r.join(at)).unwrap();
    for d in [
        "usr/bin",
        "usr/sbin",
        "usr/lib/x86_64-linux-gnu",
        "usr/lib64",
        "usr/lib/grub/i386-pc",
        "usr/share/grub",
        "etc",
    ] {
        mk(d);
    }
    ln("usr/bin", "bin");
    ln("usr/sbin", "sbin");
    ln("usr/lib", "lib");
    ln("usr/lib64", "lib64");
    std::fs::copy(dash, r.join("usr/bin/dash")).unwrap();
    ln("dash", "usr/bin/sh");
    std::fs::copy(libc, r.join("usr/lib/x86_64-linux-gnu/libc.so.6")).unwrap();
    std::fs::copy(ld, r.join("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")).unwrap();
    ln(
        "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        "usr/lib64/ld-linux-x86-64.so.2",
    );
    std::fs::write(r.join("usr/sbin/grub-install"), "#!/bin/sh\necho install\n").unwrap();
    std::fs::write(r.join("usr/sbin/grub-mkimage"), "#!/usr/bin/env sh\necho\n").unwrap();
    std::fs::write(r.join("usr/lib/grub/i386-pc/normal.mod"), b"\x7fELF mod").unwrap();
    std::fs::write(r.join("usr/lib/grub/i386-pc/boot.img"), [0u8; 512]).unwrap();
    std::fs::write(r.join("usr/share/grub/unicode.pf2"), b"font").unwrap();
    // A stale cache-less host: /etc has no ld.so.cache.
    std::fs::copy("/usr/bin/env", r.join("usr/bin/env")).unwrap();

    let mut tree = Tree::new();
    let report = gather_tools(r, &["grub-install", "nope"], &mut tree).unwrap();
    assert_eq!(report.found["grub-install"], "/usr/sbin/grub-install");
    assert_eq!(report.found["grub-mkimage"], "/usr/sbin/grub-mkimage");
    assert_eq!(
        report.missing,
        vec![
            "grub-probe|grub2-probe",
            "grub-bios-setup|grub2-bios-setup",
            "grub-editenv|grub2-editenv",
            "efibootmgr",
            "nope"
        ]
    );
    assert!(report.unresolved.is_empty(), "{:?}", report.unresolved);
    for p in [
        "/usr/lib/grub/i386-pc/normal.mod",
        "/usr/lib/grub/i386-pc/boot.img",
        "/usr/share/grub/unicode.pf2",
        "/bin/sh",
        "/usr/bin/env",
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/ld-linux-x86-64.so.2",
    ] {
        assert!(tree_file(&tree, Path::new(p)).is_some(), "{p} not in tree");
    }
    // Links are kept as they are on the host, absolute ones too.
    assert_eq!(
        tree.get("/usr/lib64/ld-linux-x86-64.so.2").unwrap().kind,
        Kind::Symlink(PathBuf::from("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"))
    );
    assert_eq!(
        tree.get("/lib").unwrap().kind,
        Kind::Symlink(PathBuf::from("usr/lib"))
    );
    // Every host file is read from inside the root.
    let outside: BTreeSet<String> = tree
        .iter()
        .filter_map(|(_, e)| match &e.kind {
            Kind::File(Source::Host(p)) if !p.starts_with(r) => Some(p.display().to_string()),
            _ => None,
        })
        .collect();
    assert!(outside.is_empty(), "{outside:?}");
}
