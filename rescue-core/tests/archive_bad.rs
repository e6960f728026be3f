//! Bad input: corrupted and truncated streams are errors naming where (never panics),
//! and entries that would land outside the target root are refused while the others are
//! extracted.

mod archive_support;

use std::fs;
use std::io::Read;
use std::path::Path;

use archive_support::*;
use rescue_core::archive::pax::{field, padded, push_record, HeaderBlock};
use rescue_core::archive::{
    stored_size, ArchiveError, EntryKind, EntryMeta, Extractor, Slice, TarReader, TarWriter,
};

fn file(path: &str, data: &[u8]) -> (EntryMeta, Vec<u8>) {
    (
        EntryMeta::new(
            path,
            EntryKind::File {
                size: data.len() as u64,
                sparse: None,
            },
        ),
        data.to_vec(),
    )
}

fn ours(entries: &[(EntryMeta, Vec<u8>)]) -> Vec<u8> {
    let mut w = TarWriter::new(Vec::new());
    for (m, d) in entries {
        w.append(m, &mut d.as_slice()).unwrap();
    }
    w.finish().unwrap()
}

/// A raw entry, written by hand so it can say what our writer refuses to: the name in a
/// pax `path` record when it is long.
fn raw(name: &[u8], typeflag: u8, data: &[u8], link: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if name.len() > 100 || link.len() > 100 {
        let mut rec = Vec::new();
        push_record(&mut rec, b"path", name);
        push_record(&mut rec, b"linkpath", link);
        let mut x = HeaderBlock::new(b'x');
        x.bytes(field::NAME, b"PaxHeaders/x");
        x.number(field::SIZE, rec.len() as u64);
        out.extend_from_slice(&x.finish());
        rec.resize(padded(rec.len() as u64) as usize, 0);
        out.extend(rec);
    }
    let mut h = HeaderBlock::new(typeflag);
    h.bytes(field::NAME, &name[..name.len().min(100)]);
    h.bytes(field::LINKNAME, &link[..link.len().min(100)]);
    h.number(field::MODE, 0o644);
    h.number(field::SIZE, data.len() as u64);
    h.number(field::MTIME, 1_700_000_000);
    out.extend_from_slice(&h.finish());
    let mut d = data.to_vec();
    d.resize(padded(d.len() as u64) as usize, 0);
    out.extend(d);
    out
}

fn end(mut v: Vec<u8>) -> Vec<u8> {
    v.extend_from_slice(&[0; 1024]);
    v
}

/// Extracts everything it can, returning the errors (entry errors and the reader's).
fn extract_collecting(root: &Path, tar: &[u8]) -> Vec<ArchiveError> {
    let mut ex = Extractor::new(root).unwrap();
    let mut r = TarReader::new(tar);
    let mut errors = Vec::new();
    loop {
        match r.next_entry() {
            Ok(None) => break,
            Ok(Some((meta, mut data))) => {
                if let Err(e) = ex.extract(&meta, &mut data) {
                    errors.push(e);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    errors.extend(ex.finish());
    errors
}

#[test]
fn a_flipped_header_byte_is_a_checksum_error_naming_the_offset() {
    let entries = vec![file("a", &[1; 700]), file("b", b"bee"), file("c", b"sea")];
    let good = ours(&entries);
    let b_at = stored_size(&entries[0].0) as usize;
    for flip in [b_at + 3, b_at + field::SIZE.0 + 2, b_at + 300] {
        let mut bad = good.clone();
        bad[flip] ^= 0x10;
        let mut r = TarReader::new(bad.as_slice());
        let (m, mut d) = r.next_entry().unwrap().unwrap();
        assert_eq!(m.path, b"a");
        let mut buf = Vec::new();
        d.read_to_end(&mut buf).unwrap();
        match r.next_entry() {
            Err(e @ ArchiveError::BadChecksum { offset }) => {
                assert_eq!(offset, b_at as u64);
                assert!(e.to_string().contains(&format!("byte {b_at}")), "{e}");
                assert!(e.is_fatal());
            }
            other => panic!("flip at {flip}: {other:?}"),
        }
        assert!(r.next_entry().unwrap().is_none());
    }
    // A flipped byte in a pax header block too.
    let mut m = EntryMeta::new("x", EntryKind::Dir);
    m.mtime = (1, 5);
    let good = ours(&[(m, vec![])]);
    let mut bad = good.clone();
    bad[100] ^= 1;
    assert!(matches!(
        TarReader::new(bad.as_slice()).next_entry(),
        Err(ArchiveError::BadChecksum { offset: 0 })
    ));
    // Extraction stops at the bad header but keeps what came before.
    let entries = vec![file("a", b"1"), file("b", b"2")];
    let mut bad = ours(&entries);
    bad[512 + 512 + 10] ^= 1;
    let root = tempfile::tempdir().unwrap();
    let errors = extract_collecting(root.path(), &bad);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(root.path().join("a").exists());
    assert!(!root.path().join("b").exists());
}

#[test]
fn truncated_streams_are_errors_with_offsets() {
    let mut sp = EntryMeta::new(
        "sparse",
        EntryKind::File {
            size: 1 << 20,
            sparse: Some(vec![(4096, 1000), (8192, 100)]),
        },
    );
    sp.xattrs = vec![(b"user.x".to_vec(), vec![7; 600])];
    let entries = vec![
        file("a", &[1; 1500]),
        (sp, vec![9; 1100]),
        file(&format!("{}f", "long/".repeat(40)), b"z"),
    ];
    let good = ours(&entries);
    let last_entry_end = good.len() - 1024;
    for cut in (0..good.len()).step_by(37).chain([
        last_entry_end,
        last_entry_end + 511,
        last_entry_end + 512,
        good.len() - 1,
    ]) {
        let t = &good[..cut];
        let mut r = TarReader::new(t);
        let mut error = None;
        loop {
            match r.next_entry() {
                Ok(None) => break,
                Ok(Some((_, mut d))) => {
                    let mut sink = Vec::new();
                    if let Err(e) = d.read_to_end(&mut sink) {
                        assert!(e.to_string().contains("truncated at byte"), "{e}");
                    }
                }
                Err(e) => {
                    assert!(
                        matches!(e, ArchiveError::Truncated { .. }),
                        "cut {cut}: {e}"
                    );
                    assert!(e.to_string().contains("byte"), "{e}");
                    error = Some(e);
                    break;
                }
            }
        }
        // Only a cut inside the end-of-archive blocks (after the first) reads cleanly.
        assert_eq!(
            error.is_none(),
            cut >= last_entry_end + 512,
            "cut at {cut}: {error:?}"
        );
        assert!(r.next_entry().unwrap().is_none());
    }
    // Extraction of a cut stream reports the entry whose data is missing.
    let root = tempfile::tempdir().unwrap();
    let errors = extract_collecting(root.path(), &good[..2000]);
    assert!(
        errors
            .iter()
            .any(|e| matches!(e, ArchiveError::Data { path, .. } if path == "a")),
        "{errors:?}"
    );
}

#[test]
fn paths_that_leave_the_root_are_refused_and_the_rest_goes_on() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("root");
    fs::create_dir(&root).unwrap();
    let abs = format!("/tmp/mkrescue-archive-test-abs-{}", std::process::id());
    let tar = end([
        raw(b"../x", b'0', b"escape", b""),
        raw(abs.as_bytes(), b'0', b"absolute", b""),
        raw(b"a/../../x", b'0', b"escape", b""),
        raw(b"dir/..", b'5', b"", b""),
        raw(b"ok", b'0', b"fine", b""),
    ]
    .concat());
    let errors = extract_collecting(&root, &tar);
    let refused: Vec<String> = errors
        .iter()
        .map(|e| match e {
            ArchiveError::Unsafe { path, .. } => path.clone(),
            e => panic!("{e}"),
        })
        .collect();
    assert_eq!(
        refused,
        vec![
            "../x".to_string(),
            abs.clone(),
            "a/../../x".into(),
            "dir/..".into()
        ]
    );
    assert!(
        errors[0].to_string().starts_with("../x: refused: "),
        "{}",
        errors[0]
    );
    assert_eq!(fs::read(root.join("ok")).unwrap(), b"fine");
    assert!(!Path::new(&abs).exists());
    assert_eq!(
        fs::read_dir(base.path()).unwrap().count(),
        1,
        "only the root in its parent"
    );
    assert_eq!(
        fs::read_dir(&root).unwrap().count(),
        1,
        "only `ok` in the root"
    );
}

#[test]
fn symlink_and_hard_link_tricks_are_refused() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("root");
    let outside = base.path().join("outside");
    fs::create_dir(&root).unwrap();
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("passwd"), b"secret").unwrap();
    // a symlink that was in the target before
    std::os::unix::fs::symlink(&outside, root.join("pre")).unwrap();
    let out = outside.as_os_str().as_encoded_bytes().to_vec();
    let out_passwd = [out.as_slice(), b"/passwd"].concat();
    let tar = end([
        raw(b"evil", b'2', b"", &out),
        raw(b"evil/passwd", b'0', b"pwned", b""),
        raw(b"evil/sub/new", b'0', b"pwned", b""),
        raw(b"pre/passwd", b'0', b"pwned", b""),
        raw(b"rel", b'2', b"", b"../outside"),
        raw(b"rel/passwd", b'0', b"pwned", b""),
        // a symlink replaced by a file: the file does not go through it
        raw(b"evil2", b'2', b"", &out_passwd),
        raw(b"evil2", b'0', b"pwned", b""),
        raw(b"hl1", b'1', b"", b"evil/passwd"),
        raw(b"hl2", b'1', b"", b"../../etc/passwd"),
        raw(b"hl3", b'1', b"", b"/etc/passwd"),
        raw(b"hl4", b'1', b"", b"pre/passwd"),
        raw(b"fine", b'0', b"ok", b""),
        raw(b"hl5", b'1', b"", b"fine"),
    ]
    .concat());
    let errors = extract_collecting(&root, &tar);
    let refused: Vec<String> = errors
        .iter()
        .map(|e| match e {
            ArchiveError::Unsafe { path, .. } => path.clone(),
            e => panic!("{e}"),
        })
        .collect();
    assert_eq!(
        refused,
        [
            "evil/passwd",
            "evil/sub/new",
            "pre/passwd",
            "rel/passwd",
            "hl1",
            "hl2",
            "hl3",
            "hl4"
        ]
    );
    assert_eq!(fs::read(outside.join("passwd")).unwrap(), b"secret");
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 1);
    assert_eq!(fs::read(root.join("evil2")).unwrap(), b"pwned");
    assert!(fs::symlink_metadata(root.join("evil2")).unwrap().is_file());
    assert_eq!(fs::read(root.join("hl5")).unwrap(), b"ok");
    assert!(
        errors[0].to_string().contains("evil is a symlink"),
        "{}",
        errors[0]
    );

    // The same with `evil -> /etc`, now that the above shows nothing goes through.
    let passwd = fs::read("/etc/passwd").unwrap();
    let root2 = tempfile::tempdir().unwrap();
    let tar = end([
        raw(b"evil", b'2', b"", b"/etc"),
        raw(b"evil/passwd", b'0', b"pwned", b""),
    ]
    .concat());
    let errors = extract_collecting(root2.path(), &tar);
    assert_eq!(errors.len(), 1);
    assert!(matches!(&errors[0], ArchiveError::Unsafe { path, .. } if path == "evil/passwd"));
    assert_eq!(fs::read("/etc/passwd").unwrap(), passwd);
}

#[test]
fn slices_over_the_wrong_thing_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("f"), vec![b's'; 100]).unwrap();
    std::os::unix::fs::symlink(outside.path().join("f"), root.path().join("f")).unwrap();
    let mut m = EntryMeta::new(
        "f",
        EntryKind::File {
            size: 10,
            sparse: None,
        },
    );
    m.slice = Some(Slice {
        offset: 10,
        total: 20,
    });
    let tar = ours(&[(m, vec![b'x'; 10])]);
    let errors = extract_collecting(root.path(), &tar);
    assert!(
        matches!(errors.as_slice(), [ArchiveError::Slice { .. }]),
        "{errors:?}"
    );
    assert_eq!(fs::read(outside.path().join("f")).unwrap(), vec![b's'; 100]);
}

/// A FIFO in one set, then a slice of the same path in the next (found by the
/// tar_extract fuzz target): a slice continues only the file the extractor made for the
/// slices before it, so the FIFO is never opened (opening it for writing would block).
#[test]
fn a_slice_after_a_fifo_in_an_earlier_set_is_refused_without_blocking() {
    let root = tempfile::tempdir().unwrap();
    let first = ours(&[(EntryMeta::new("p", EntryKind::Fifo), Vec::new())]);
    let mut m = EntryMeta::new(
        "p",
        EntryKind::File {
            size: 10,
            sparse: None,
        },
    );
    m.slice = Some(Slice {
        offset: 10,
        total: 20,
    });
    let second = ours(&[(m, vec![b'x'; 10])]);
    let mut ex = Extractor::new(root.path()).unwrap();
    let mut errors = Vec::new();
    for set in [&first, &second] {
        let mut r = TarReader::new(set.as_slice());
        while let Some((meta, mut data)) = r.next_entry().unwrap() {
            if let Err(e) = ex.extract(&meta, &mut data) {
                errors.push(e);
            }
        }
    }
    assert!(
        matches!(errors.as_slice(), [ArchiveError::Slice { .. }]),
        "{errors:?}"
    );
    use std::os::unix::fs::FileTypeExt;
    assert!(fs::symlink_metadata(root.path().join("p"))
        .unwrap()
        .file_type()
        .is_fifo());
}

/// xorshift64*: deterministic, so a failure can be replayed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The offsets of the header blocks of a well-formed stream.
fn header_offsets(tar: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut p = 0;
    while p + 512 <= tar.len() && tar[p..p + 512].iter().any(|&b| b != 0) {
        out.push(p);
        let size =
            rescue_core::archive::pax::parse_number(&tar[p + 124..p + 136]).unwrap() as usize;
        p += 512 + padded(size as u64) as usize;
    }
    out
}

fn fix_checksum(block: &mut [u8]) {
    let mut b = [0u8; 512];
    b.copy_from_slice(&block[..512]);
    let mut h = HeaderBlock(b);
    h.0[148..156].fill(b' ');
    block[..512].copy_from_slice(&h.finish());
}

fn read_everything(tar: &[u8], rng: &mut Rng) {
    let mut r = TarReader::new(tar);
    for _ in 0..10_000 {
        match r.next_entry() {
            Ok(None) => return,
            Ok(Some((_, mut d))) => {
                let mut buf = [0u8; 700];
                for _ in 0..100_000 {
                    let n = if rng.next().is_multiple_of(2) {
                        d.read(&mut buf)
                    } else {
                        d.read_stored(&mut buf)
                    };
                    match n {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            }
            Err(e) => {
                let _ = e.to_string();
                if e.is_fatal() {
                    assert!(r.next_entry().unwrap().is_none());
                    return;
                }
            }
        }
    }
    panic!("no end after 10000 entries");
}

#[test]
fn mutated_and_random_archives_never_panic_nor_escape() {
    let mut sp = EntryMeta::new(
        "d/sparse",
        EntryKind::File {
            size: 300_000,
            sparse: Some(vec![(1000, 10), (200_000, 20)]),
        },
    );
    sp.xattrs = vec![(b"user.a".to_vec(), b"b".to_vec()), (b"system.posix_acl_access".to_vec(), b"\x02\0\0\0\x01\0\x06\0\xff\xff\xff\xff\x04\0\x04\0\xff\xff\xff\xff\x20\0\x04\0\xff\xff\xff\xff".to_vec())];
    sp.mtime = (1_700_000_000, 42);
    let mut sl = EntryMeta::new(
        "d/slice",
        EntryKind::File {
            size: 5,
            sparse: None,
        },
    );
    sl.slice = Some(Slice {
        offset: 0,
        total: 10,
    });
    let entries = vec![
        (EntryMeta::new("d", EntryKind::Dir), vec![]),
        file("d/a", &[b'a'; 600]),
        (sp, vec![b's'; 30]),
        (sl, b"12345".to_vec()),
        file(&format!("d/{}", "n".repeat(150)), b"long"),
        (
            EntryMeta::new(
                "d/h",
                EntryKind::HardLink {
                    target: b"d/a".to_vec(),
                },
            ),
            vec![],
        ),
        (
            EntryMeta::new(
                "d/s",
                EntryKind::Symlink {
                    target: b"../../x".to_vec(),
                },
            ),
            vec![],
        ),
        (EntryMeta::new("d/p", EntryKind::Fifo), vec![]),
        (
            EntryMeta::new(
                b"d/\xffz".to_vec(),
                EntryKind::CharDevice { major: 1, minor: 3 },
            ),
            vec![],
        ),
    ];
    let good = ours(&entries);
    let headers = header_offsets(&good);
    assert!(headers.len() >= 10);
    let base = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for iter in 0..1500 {
        let mut t = good.clone();
        for _ in 0..1 + rng.below(6) {
            // mostly in headers, where it matters
            let at = if rng.next().is_multiple_of(4) {
                rng.below(t.len())
            } else {
                headers[rng.below(headers.len())] + rng.below(512)
            };
            t[at] = match rng.below(4) {
                0 => 0,
                1 => b'0' + rng.below(10) as u8,
                2 => b'/',
                _ => rng.next() as u8,
            };
        }
        if rng.next().is_multiple_of(2) {
            for &h in &headers {
                fix_checksum(&mut t[h..h + 512]);
            }
        }
        if rng.next().is_multiple_of(5) {
            t.truncate(rng.below(t.len()));
        }
        read_everything(&t, &mut rng);
        if iter % 15 == 0 && is_root() {
            let root = base.path().join("root");
            fs::create_dir(&root).unwrap();
            let _ = extract_collecting(&root, &t);
            let names: Vec<_> = fs::read_dir(base.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(
                names,
                vec![std::ffi::OsString::from("root")],
                "iteration {iter}"
            );
            fs::remove_dir_all(&root).unwrap();
        }
    }
    // Plain noise, with a valid checksum on the first block now and then.
    for _ in 0..300 {
        let mut t: Vec<u8> = (0..rng.below(4096)).map(|_| rng.next() as u8).collect();
        if t.len() >= 512 && rng.next().is_multiple_of(2) {
            fix_checksum(&mut t[..512]);
        }
        read_everything(&t, &mut rng);
    }
}
