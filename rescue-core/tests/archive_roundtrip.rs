//! Our writer, reader and extractor together: a tree with every kind of file goes into a
//! tar stream and comes back out identical; slices across streams reassemble.

mod archive_support;

use std::fs;
use std::io::Read;
use std::process::Command;

use archive_support::*;
use rescue_core::archive::{
    stored_size, ArchiveError, EntryKind, EntryMeta, Extractor, Slice, TarReader, TarWriter,
};

#[test]
fn every_kind_round_trips_through_our_writer_and_extractor() {
    if !is_root() && !skip("needs root (device nodes, owners)") {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let corpus = make_corpus(src.path());
    let entries = scan(src.path());
    let tar = write_tar(&entries);

    // The reader gives back exactly the entries written.
    let mut r = TarReader::new(tar.as_slice());
    let mut i = 0;
    while let Some((meta, _)) = r.next_entry().unwrap() {
        assert_eq!(meta, entries[i].0);
        i += 1;
    }
    assert_eq!(i, entries.len());

    let mut ex = Extractor::new(dst.path()).unwrap().verify(true);
    let done = extract_all(&mut ex, &tar);
    let errors = ex.finish();
    assert!(errors.is_empty(), "{errors:?}");

    // atime came back as stored (checked first: reading the files moves it).
    let stored_atime = entries
        .iter()
        .find(|(m, _)| m.path == b"d/setuid")
        .unwrap()
        .0
        .atime;
    let md = fs::symlink_metadata(dst.path().join("d/setuid")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(Some((md.atime(), md.atime_nsec() as u32)), stored_atime);

    assert_same(
        &snapshot(src.path()),
        &snapshot(dst.path()),
        "our extraction",
    );

    // The root's own metadata came from the `.` entry.
    let (sm, dm) = (
        fs::metadata(src.path()).unwrap(),
        fs::metadata(dst.path()).unwrap(),
    );
    assert_eq!(
        (sm.mode(), sm.mtime(), sm.mtime_nsec()),
        (dm.mode(), dm.mtime(), dm.mtime_nsec())
    );

    // Hashes of what was written match the content.
    for (meta, ex) in &done {
        if let EntryKind::File { .. } = meta.kind {
            let want = blake3::hash(&fs::read(p(dst.path(), &meta.path)).unwrap());
            assert_eq!(ex.b3, Some(want), "{}", meta.display_path());
            assert!(ex.complete);
        } else {
            assert_eq!(ex.b3, None);
        }
    }
    // The sparse files stayed sparse.
    assert!(allocated(&dst.path().join("sparse")) < 1 << 20);
    assert!(allocated(&dst.path().join("sparse-all-hole")) < 64 << 10);

    // ACLs and capabilities as their own tools see them.
    if corpus.acls {
        for f in ["acl-file", "acl-dir", "acl-dir/child"] {
            let facl = |root: &std::path::Path| {
                let out = run(Command::new("getfacl")
                    .args(["-n", "-p", "--omit-header"])
                    .arg(root.join(f)));
                String::from_utf8(out).unwrap()
            };
            assert_eq!(facl(src.path()), facl(dst.path()), "{f}");
            assert!(facl(dst.path()).contains("user:1234:"), "{f}");
        }
    }
    if corpus.caps {
        let cap = |root: &std::path::Path| {
            String::from_utf8(run(Command::new("getcap").arg(root.join("cap-file")))).unwrap()
        };
        assert!(
            cap(dst.path()).contains("cap_net_raw"),
            "{}",
            cap(dst.path())
        );
    }
}

#[test]
fn extracting_twice_over_the_same_root_gives_the_same_tree() {
    if !is_root() && !skip("needs root (device nodes, owners)") {
        return;
    }
    let src = tempfile::tempdir().unwrap();
    let dst = tempfile::tempdir().unwrap();
    make_corpus(src.path());
    let tar = write_tar(&scan(src.path()));
    for _ in 0..2 {
        let mut ex = Extractor::new(dst.path()).unwrap();
        extract_all(&mut ex, &tar);
        assert!(ex.finish().is_empty());
    }
    assert_same(
        &snapshot(src.path()),
        &snapshot(dst.path()),
        "second extraction",
    );
}

fn file_meta(path: &str, size: u64, slice: Option<Slice>) -> EntryMeta {
    let mut m = EntryMeta::new(path, EntryKind::File { size, sparse: None });
    m.mode = 0o640;
    m.mtime = (1_700_000_000, 999_999_999);
    m.slice = slice;
    m
}

#[test]
fn a_file_sliced_across_three_streams_reassembles() {
    let content: Vec<u8> = (0..300_001u32).map(|i| (i % 251) as u8).collect();
    let cuts = [0usize, 100_000, 200_000, 300_001];
    let mut streams = Vec::new();
    for k in 0..3 {
        let mut w = TarWriter::new(Vec::new());
        if k == 0 {
            w.append(
                &EntryMeta::new("dir", EntryKind::Dir),
                &mut std::io::empty(),
            )
            .unwrap();
        }
        let piece = &content[cuts[k]..cuts[k + 1]];
        let meta = file_meta(
            "dir/big",
            piece.len() as u64,
            Some(Slice {
                offset: cuts[k] as u64,
                total: content.len() as u64,
            }),
        );
        let out = w.append(&meta, &mut &piece[..]).unwrap();
        assert_eq!(out.b3, Some(blake3::hash(piece)));
        assert_eq!(out.stored, stored_size(&meta));
        if k == 2 {
            let link = EntryMeta::new(
                "dir/big-link",
                EntryKind::HardLink {
                    target: b"dir/big".to_vec(),
                },
            );
            w.append(&link, &mut std::io::empty()).unwrap();
        }
        streams.push(w.finish().unwrap());
    }
    let dst = tempfile::tempdir().unwrap();
    let mut ex = Extractor::new(dst.path()).unwrap().verify(true);
    let mut completes = Vec::new();
    for (k, s) in streams.iter().enumerate() {
        let mut r = TarReader::new(s.as_slice());
        while let Some((meta, mut data)) = r.next_entry().unwrap() {
            let done = ex.extract(&meta, &mut data).unwrap();
            if meta.path == b"dir/big" {
                assert_eq!(done.b3, Some(blake3::hash(&content[cuts[k]..cuts[k + 1]])));
                completes.push(done.complete);
            }
        }
    }
    assert!(ex.finish().is_empty());
    assert_eq!(completes, vec![false, false, true]);
    let got = fs::read(dst.path().join("dir/big")).unwrap();
    assert!(got == content, "reassembled content differs");
    use std::os::unix::fs::MetadataExt;
    let md = fs::metadata(dst.path().join("dir/big")).unwrap();
    assert_eq!(
        (md.mode() & 0o7777, md.mtime(), md.mtime_nsec()),
        (0o640, 1_700_000_000, 999_999_999)
    );
    assert_eq!(md.nlink(), 2);

    // A later slice without the earlier ones is an error, and names the file.
    let other = tempfile::tempdir().unwrap();
    let mut ex = Extractor::new(other.path()).unwrap();
    let mut r = TarReader::new(streams[1].as_slice());
    let (meta, mut data) = r.next_entry().unwrap().unwrap();
    match ex.extract(&meta, &mut data) {
        Err(e @ ArchiveError::Slice { .. }) => assert!(e.to_string().contains("dir/big"), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_sparse_file_sliced_keeps_its_holes() {
    // 3 MiB with data at 0 and at 2.5 MiB, cut at 1 MiB: the second slice's map is
    // relative to its start.
    let total = 3u64 << 20;
    let slices = [
        (0u64, 1u64 << 20, vec![(0u64, 4096u64)]),
        (1 << 20, 2 << 20, vec![(3 << 19, 4096)]),
    ];
    let dst = tempfile::tempdir().unwrap();
    let mut ex = Extractor::new(dst.path()).unwrap();
    let mut want = vec![0u8; total as usize];
    for (offset, len, ext) in &slices {
        let data: Vec<u8> = vec![b'x' + (*offset > 0) as u8; 4096];
        let abs = (offset + ext[0].0) as usize;
        want[abs..abs + 4096].copy_from_slice(&data);
        let mut meta = EntryMeta::new(
            "s",
            EntryKind::File {
                size: *len,
                sparse: Some(ext.clone()),
            },
        );
        meta.slice = Some(Slice {
            offset: *offset,
            total,
        });
        let mut w = TarWriter::new(Vec::new());
        w.append(&meta, &mut data.as_slice()).unwrap();
        let tar = w.finish().unwrap();
        let mut r = TarReader::new(tar.as_slice());
        let (m, mut d) = r.next_entry().unwrap().unwrap();
        assert_eq!(m, meta);
        ex.extract(&m, &mut d).unwrap();
    }
    assert!(ex.finish().is_empty());
    let got = fs::read(dst.path().join("s")).unwrap();
    assert!(got == want);
    assert!(allocated(&dst.path().join("s")) < 256 << 10);
}

#[test]
fn mapping_moves_entries_and_their_hard_links() {
    let mut w = TarWriter::new(Vec::new());
    let mut add = |m: EntryMeta, data: &[u8]| {
        w.append(&m, &mut &data[..]).unwrap();
    };
    add(EntryMeta::new("home", EntryKind::Dir), b"");
    add(EntryMeta::new("home/ann", EntryKind::Dir), b"");
    add(file_meta("home/ann/notes", 5, None), b"notes");
    add(
        EntryMeta::new(
            "home/ann/again",
            EntryKind::HardLink {
                target: b"home/ann/notes".to_vec(),
            },
        ),
        b"",
    );
    add(file_meta("etc-file", 1, None), b"e");
    let tar = w.finish().unwrap();
    let dst = tempfile::tempdir().unwrap();
    let mut ex = Extractor::new(dst.path())
        .unwrap()
        .mapping(vec![(b"home".to_vec(), b"tmp/restored/home".to_vec())])
        .unwrap();
    let mut r = TarReader::new(tar.as_slice());
    let mut paths = Vec::new();
    while let Some((meta, mut data)) = r.next_entry().unwrap() {
        paths.push(String::from_utf8(ex.extract(&meta, &mut data).unwrap().path).unwrap());
    }
    assert!(ex.finish().is_empty());
    assert_eq!(
        paths,
        [
            "tmp/restored/home",
            "tmp/restored/home/ann",
            "tmp/restored/home/ann/notes",
            "tmp/restored/home/ann/again",
            "etc-file"
        ]
    );
    let mut s = String::new();
    fs::File::open(dst.path().join("tmp/restored/home/ann/again"))
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    assert_eq!(s, "notes");
    assert!(!dst.path().join("home").exists());
}

#[test]
fn owners_by_name_when_asked() {
    if !is_root() && !skip("needs root (owners)") {
        return;
    }
    let names = tempfile::tempdir().unwrap();
    fs::create_dir(names.path().join("etc")).unwrap();
    fs::write(
        names.path().join("etc/passwd"),
        "ann:x:4321:4321::/home/ann:/bin/sh\n",
    )
    .unwrap();
    fs::write(names.path().join("etc/group"), "staff:x:8765:\n").unwrap();
    let mut m = file_meta("f", 1, None);
    (m.uid, m.gid) = (1000, 50);
    m.user = Some(b"ann".to_vec());
    m.group = Some(b"nosuchgroup".to_vec());
    let mut w = TarWriter::new(Vec::new());
    w.append(&m, &mut &b"x"[..]).unwrap();
    let tar = w.finish().unwrap();
    use std::os::unix::fs::MetadataExt;
    for (numeric, want) in [(true, (1000, 50)), (false, (4321, 50))] {
        let dst = tempfile::tempdir().unwrap();
        let mut ex = Extractor::new(dst.path())
            .unwrap()
            .numeric_owner(numeric)
            .names_from(names.path());
        let mut r = TarReader::new(tar.as_slice());
        let (meta, mut data) = r.next_entry().unwrap().unwrap();
        ex.extract(&meta, &mut data).unwrap();
        let md = fs::metadata(dst.path().join("f")).unwrap();
        assert_eq!((md.uid(), md.gid()), want, "numeric {numeric}");
    }
}
