//! GNU tar is the judge: it lists and extracts what our writer makes exactly, and our
//! reader reads what GNU tar makes.

mod archive_support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use archive_support::*;
use rescue_core::archive::{EntryKind, EntryMeta, Extractor, Slice, TarReader, TarWriter};

fn ready() -> bool {
    if !is_root() {
        return skip("needs root (device nodes, owners)");
    }
    if !gnu_tar() {
        return skip("GNU tar is not installed");
    }
    true
}

fn gnu(args: &[&str]) -> Command {
    let mut c = Command::new("tar");
    c.env("LC_ALL", "C").env("TZ", "UTC").args(args);
    c
}

/// GNU tar's `--quoting-style=escape` in the C locale.
fn escape(name: &[u8]) -> String {
    let mut s = String::new();
    for &b in name {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x21..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\{b:03o}")),
        }
    }
    s
}

fn mode_string(meta: &EntryMeta) -> String {
    let t = match meta.kind {
        EntryKind::File { .. } => '-',
        EntryKind::HardLink { .. } => 'h',
        EntryKind::Symlink { .. } => 'l',
        EntryKind::CharDevice { .. } => 'c',
        EntryKind::BlockDevice { .. } => 'b',
        EntryKind::Dir => 'd',
        EntryKind::Fifo => 'p',
    };
    let m = meta.mode;
    let bit = |mask: u32, c: char| if m & mask != 0 { c } else { '-' };
    let special = |x: u32, sp: u32, lower: char, upper: char| match (m & x != 0, m & sp != 0) {
        (true, true) => lower,
        (false, true) => upper,
        (true, false) => 'x',
        (false, false) => '-',
    };
    [
        t,
        bit(0o400, 'r'),
        bit(0o200, 'w'),
        special(0o100, 0o4000, 's', 'S'),
        bit(0o040, 'r'),
        bit(0o020, 'w'),
        special(0o010, 0o2000, 's', 'S'),
        bit(0o004, 'r'),
        bit(0o002, 'w'),
        special(0o001, 0o1000, 't', 'T'),
    ]
    .iter()
    .collect()
}

/// One listing line as GNU tar prints it, less the date.
fn expected_line(meta: &EntryMeta) -> String {
    let size = match &meta.kind {
        EntryKind::File { size, .. } => size.to_string(),
        EntryKind::CharDevice { major, minor } | EntryKind::BlockDevice { major, minor } => {
            format!("{major},{minor}")
        }
        _ => "0".into(),
    };
    let mut name = escape(&meta.path);
    if meta.kind == EntryKind::Dir {
        name.push('/');
    }
    let suffix = match &meta.kind {
        EntryKind::Symlink { target } => format!(" -> {}", escape(target)),
        EntryKind::HardLink { target } => format!(" link to {}", escape(target)),
        _ => String::new(),
    };
    format!(
        "{} {}/{} {size} {name}{suffix}",
        mode_string(meta),
        meta.uid,
        meta.gid
    )
}

/// Runs GNU tar: it must succeed, and say nothing on stderr but that it ignores the keys
/// it does not know (`hdrcharset`, our slice keys), which is harmless.
fn run_gnu(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{stderr}",
        out.status
    );
    for line in stderr.lines() {
        let known = [
            "hdrcharset",
            "MKRESCUE.slice.offset",
            "MKRESCUE.slice.total",
        ]
        .iter()
        .any(|k| line == format!("tar: Ignoring unknown extended header keyword '{k}'"));
        assert!(known, "{cmd:?} warned: {stderr}");
    }
    out.stdout
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let f = dir.join(name);
    fs::write(&f, bytes).unwrap();
    f
}

#[test]
fn gnu_tar_lists_our_archive() {
    if !ready() {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    make_corpus(src.path());
    let entries = scan(src.path());
    let tar = write_file(work.path(), "ours.tar", &write_tar(&entries));
    let out = run_gnu(gnu(&["--numeric-owner", "--quoting-style=escape", "-tvf"]).arg(&tar));
    let got: Vec<String> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            // mode owner size date time name...: drop the date and time
            let f: Vec<&str> = l.split(' ').filter(|s| !s.is_empty()).collect();
            format!("{} {} {} {}", f[0], f[1], f[2], f[5..].join(" "))
        })
        .collect();
    let want: Vec<String> = entries.iter().map(|(m, _)| expected_line(m)).collect();
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
}

#[test]
fn gnu_tar_extracts_our_archive_identically() {
    if !ready() {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let corpus = make_corpus(src.path());
    let tar = write_file(work.path(), "ours.tar", &write_tar(&scan(src.path())));
    run_gnu(
        gnu(&["--xattrs", "--xattrs-include=*", "--acls", "-xpf"])
            .arg(&tar)
            .arg("-C")
            .arg(dst.path()),
    );
    assert_same(
        &snapshot(src.path()),
        &snapshot(dst.path()),
        "GNU tar's extraction",
    );
    assert!(
        allocated(&dst.path().join("sparse")) < 1 << 20,
        "GNU tar wrote the holes"
    );
    if corpus.acls {
        for f in ["acl-file", "acl-dir", "acl-dir/child"] {
            let facl = |root: &Path| {
                String::from_utf8(run(Command::new("getfacl")
                    .args(["-n", "-p", "--omit-header"])
                    .arg(root.join(f))))
                .unwrap()
            };
            assert_eq!(facl(src.path()), facl(dst.path()), "{f}");
        }
    }
    // Without --acls, from the xattrs alone, the ACLs come back too.
    let dst2 = tempfile::tempdir().unwrap();
    run_gnu(
        gnu(&["--xattrs", "--xattrs-include=*", "-xpf"])
            .arg(&tar)
            .arg("-C")
            .arg(dst2.path()),
    );
    assert_same(
        &snapshot(src.path()),
        &snapshot(dst2.path()),
        "GNU tar's extraction without --acls",
    );
}

#[test]
fn we_read_archives_gnu_tar_made() {
    if !ready() {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    make_corpus(src.path());
    let scanned: BTreeMap<Vec<u8>, EntryMeta> = scan(src.path())
        .into_iter()
        .map(|(m, _)| (m.path.clone(), m))
        .collect();
    let tar = work.path().join("gnu.tar");
    run_gnu(
        gnu(&["--posix", "--xattrs", "--acls", "--sparse", "-cf"])
            .arg(&tar)
            .arg("-C")
            .arg(src.path())
            .arg("."),
    );
    let bytes = fs::read(&tar).unwrap();

    // What our reader says about each entry matches the tree.
    let mut r = TarReader::new(bytes.as_slice());
    let mut n = 0;
    let mut sparse_seen = false;
    while let Some((meta, _)) = r.next_entry().unwrap() {
        let rel = meta
            .path
            .strip_prefix(b"./")
            .map(<[u8]>::to_vec)
            .unwrap_or(meta.path.clone());
        let want = &scanned[&rel];
        let what = meta.display_path();
        assert_eq!(
            (meta.mode, meta.uid, meta.gid, meta.mtime),
            (want.mode, want.uid, want.gid, want.mtime),
            "{what}"
        );
        if !matches!(meta.kind, EntryKind::HardLink { .. }) {
            // (GNU tar stores no xattrs with a hard link: the inode has them already)
            let mut xattrs = meta.xattrs.clone();
            xattrs.sort();
            assert_eq!(xattrs, want.xattrs, "{what}");
        }
        match (&meta.kind, &want.kind) {
            (EntryKind::File { size, sparse }, EntryKind::File { size: s2, .. }) => {
                assert_eq!(size, s2, "{what}");
                sparse_seen |= sparse.is_some();
            }
            (
                EntryKind::HardLink { .. } | EntryKind::File { .. },
                EntryKind::HardLink { .. } | EntryKind::File { .. },
            ) => {}
            (a, b) => assert_eq!(a, b, "{what}"),
        }
        n += 1;
    }
    assert_eq!(n, scanned.len());
    assert!(sparse_seen, "GNU tar stored no sparse file");

    let mut ex = Extractor::new(dst.path()).unwrap();
    extract_all(&mut ex, &bytes);
    assert!(ex.finish().is_empty());
    assert_same(
        &snapshot(src.path()),
        &snapshot(dst.path()),
        "our extraction of GNU tar's archive",
    );
    assert!(allocated(&dst.path().join("sparse")) < 1 << 20);
}

#[test]
fn gnu_tar_reads_each_slice_as_a_partial_file() {
    if !gnu_tar() && !skip("GNU tar is not installed") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let content: Vec<u8> = (0..30_000u32).map(|i| (i % 253) as u8).collect();
    for (k, range) in [0..10_000usize, 10_000..20_000, 20_000..30_000]
        .into_iter()
        .enumerate()
    {
        let mut meta = EntryMeta::new(
            "big",
            EntryKind::File {
                size: range.len() as u64,
                sparse: None,
            },
        );
        meta.slice = Some(Slice {
            offset: range.start as u64,
            total: content.len() as u64,
        });
        let mut w = TarWriter::new(Vec::new());
        w.append(&meta, &mut &content[range.clone()]).unwrap();
        let tar = write_file(work.path(), &format!("set{k}.tar"), &w.finish().unwrap());
        let list = String::from_utf8(run_gnu(gnu(&["--numeric-owner", "-tvf"]).arg(&tar))).unwrap();
        let fields: Vec<&str> = list.split_whitespace().collect();
        assert_eq!(
            (fields[0], fields[1], fields[2], fields[5]),
            ("-rw-r--r--", "0/0", "10000", "big"),
            "{list}"
        );
        let out = tempfile::tempdir().unwrap();
        run_gnu(gnu(&["-xf"]).arg(&tar).arg("-C").arg(out.path()));
        assert!(fs::read(out.path().join("big")).unwrap() == content[range]);
    }
}

#[test]
fn we_read_every_gnu_sparse_version_and_the_gnu_format() {
    if !ready() {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    make_corpus(src.path());
    let want_sparse = blake3::hash(&fs::read(src.path().join("sparse")).unwrap());
    for version in ["0.0", "0.1", "1.0"] {
        let tar = work.path().join(format!("sparse-{version}.tar"));
        run_gnu(
            gnu(&["--posix", "--sparse", "--sparse-version", version, "-cf"])
                .arg(&tar)
                .arg("-C")
                .arg(src.path())
                .args(["sparse", "sparse-all-hole"]),
        );
        let bytes = fs::read(&tar).unwrap();
        let mut r = TarReader::new(bytes.as_slice());
        let mut names = Vec::new();
        while let Some((meta, mut data)) = r.next_entry().unwrap() {
            let EntryKind::File { size, sparse } = &meta.kind else {
                panic!("{meta:?}");
            };
            assert!(sparse.is_some(), "{version}: {}", meta.display_path());
            let mut h = blake3::Hasher::new();
            let n = std::io::copy(&mut data, &mut h).unwrap();
            assert_eq!(n, *size);
            if meta.path == b"sparse" {
                assert_eq!(*size, SPARSE_SIZE);
                assert_eq!(h.finalize(), want_sparse, "{version}");
            }
            names.push(meta.display_path());
        }
        assert_eq!(names, ["sparse", "sparse-all-hole"], "{version}");
    }

    // GNU's own format (not pax): long names and link targets as 'L' and 'K' entries.
    let tar = work.path().join("gnu-format.tar");
    run_gnu(
        gnu(&["--format=gnu", "--exclude=./sparse*", "-cf"])
            .arg(&tar)
            .arg("-C")
            .arg(src.path())
            .arg("."),
    );
    let bytes = fs::read(&tar).unwrap();
    let scanned: BTreeMap<Vec<u8>, EntryMeta> = scan(src.path())
        .into_iter()
        .map(|(m, _)| (m.path.clone(), m))
        .collect();
    let mut r = TarReader::new(bytes.as_slice());
    let mut n = 0;
    while let Some((meta, _)) = r.next_entry().unwrap() {
        let rel = meta
            .path
            .strip_prefix(b"./")
            .map(<[u8]>::to_vec)
            .unwrap_or(meta.path.clone());
        let want = &scanned[&rel];
        assert_eq!(
            (meta.mode, meta.uid, meta.gid, meta.mtime.0),
            (want.mode, want.uid, want.gid, want.mtime.0)
        );
        match (&meta.kind, &want.kind) {
            (
                EntryKind::HardLink { .. } | EntryKind::File { .. },
                EntryKind::HardLink { .. } | EntryKind::File { .. },
            ) => {}
            (a, b) => assert_eq!(a, b, "{}", meta.display_path()),
        }
        n += 1;
    }
    assert_eq!(n, scanned.len() - 2);
}
