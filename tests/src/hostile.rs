//! Hostile and damaged backups, made by hand: volume directories laid out as
//! `mkrescue create --output-format dir` lays them out, whose sets, hash lists and
//! manifests say whatever a test wants, and a way to run a command against them with a time
//! and memory limit.

use rescue_core::archive::pax::{self, push_record, HeaderBlock, BLOCK};
use rescue_core::archive::{EntryKind, EntryMeta, TarWriter};
use rescue_core::catalog::{to_hex, HashListWriter, HashRecord};
use rescue_core::media::{self, Compression};
use serde_json::{json, Value};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub const BACKUP_ID: &str = "0BADC0DE";

/// A tar stream built entry by entry: with our writer, or as raw headers.
#[derive(Debug, Default)]
pub struct Tar {
    pub bytes: Vec<u8>,
    /// One record per regular-file entry, as the backup writes them.
    pub hashes: Vec<HashRecord>,
}

impl Tar {
    pub fn new() -> Tar {
        Tar::default()
    }

    /// An entry written by our writer (for files: `data` as content, its hash recorded).
    pub fn entry(mut self, meta: &EntryMeta, data: &[u8]) -> Tar {
        let mut w = TarWriter::new(Vec::new());
        let out = w.append(meta, &mut &data[..]).expect("a valid entry");
        let mut bytes = w.finish().expect("in memory");
        bytes.truncate(bytes.len() - 2 * BLOCK);
        self.bytes.extend_from_slice(&bytes);
        if let Some(b3) = out.b3 {
            self.hashes.push(HashRecord {
                index: self.hashes.len() as u64,
                b3: *b3.as_bytes(),
                size: data.len() as u64,
                changed: false,
                error: None,
            });
        }
        self
    }

    /// A regular file with `content`.
    pub fn file(self, path: &str, content: &[u8]) -> Tar {
        let meta = EntryMeta::new(
            path,
            EntryKind::File {
                size: content.len() as u64,
                sparse: None,
            },
        );
        self.entry(&meta, content)
    }

    /// A raw header block of `typeflag` for `name` with `size` bytes of data following.
    pub fn raw(mut self, name: &[u8], typeflag: u8, data: &[u8]) -> Tar {
        self.bytes
            .extend_from_slice(&header(name, typeflag, data.len() as u64));
        self.bytes.extend_from_slice(data);
        self.bytes
            .resize(pax::padded(self.bytes.len() as u64) as usize, 0);
        self
    }

    /// A pax extended header (`x`, or `g` for a global one) holding `records`.
    pub fn pax(self, typeflag: u8, records: &[(&[u8], &[u8])]) -> Tar {
        let mut data = Vec::new();
        for (k, v) in records {
            push_record(&mut data, k, v);
        }
        self.raw(b"././@PaxHeader", typeflag, &data)
    }

    /// The stream with its end-of-archive blocks.
    pub fn finish(mut self) -> Tar {
        self.bytes.extend_from_slice(&[0u8; 2 * BLOCK]);
        self
    }
}

/// A ustar header block.
pub fn header(name: &[u8], typeflag: u8, size: u64) -> [u8; BLOCK] {
    let mut h = HeaderBlock::new(typeflag);
    h.bytes(pax::field::NAME, name);
    h.number(pax::field::MODE, 0o644);
    h.number(pax::field::UID, 0);
    h.number(pax::field::GID, 0);
    h.number(pax::field::SIZE, size);
    h.number(pax::field::MTIME, 1_700_000_000);
    h.finish()
}

/// A set as it goes on a volume: its file's bytes, its tar stream's size, its hash list.
#[derive(Debug)]
pub struct SetFile {
    pub number: u32,
    pub bytes: Vec<u8>,
    pub tar_bytes: u64,
    pub hash_list: Vec<u8>,
    pub compression: Compression,
}

impl SetFile {
    /// `tar` stored as it is (no compression), with its hash list.
    pub fn plain(number: u32, tar: &Tar) -> SetFile {
        SetFile {
            number,
            bytes: tar.bytes.clone(),
            tar_bytes: tar.bytes.len() as u64,
            hash_list: hash_list(&tar.hashes),
            compression: Compression::None,
        }
    }

    /// A zstd set whose tar stream `write` produces (it may be far larger than memory:
    /// only the compressed bytes are kept), with an empty hash list.
    pub fn zstd_stream(
        number: u32,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> SetFile {
        let mut counted = Counted {
            inner: zstd::stream::write::Encoder::new(Vec::new(), 1).expect("zstd"),
            n: 0,
        };
        write(&mut counted).expect("in memory");
        let tar_bytes = counted.n;
        SetFile {
            number,
            bytes: counted.inner.finish().expect("in memory"),
            tar_bytes,
            hash_list: hash_list(&[]),
            compression: Compression::Zstd,
        }
    }
}

struct Counted<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A hash list file holding `records`.
pub fn hash_list(records: &[HashRecord]) -> Vec<u8> {
    let mut w = HashListWriter::new(Vec::new()).expect("in memory");
    for r in records {
        w.write(r).expect("records in order");
    }
    w.finish().expect("in memory")
}

/// The manifest of volume `volume` holding `sets`, as JSON: tests change fields at will.
pub fn manifest(volume: u32, volumes: u32, sets: &[SetFile]) -> Value {
    let compression = sets.first().map_or(Compression::Zstd, |s| s.compression);
    json!({
        "version": 1,
        "backup_id": BACKUP_ID,
        "label": media::Manifest::volume_label(BACKUP_ID, volume),
        "volume": volume,
        "volumes": volumes,
        "created": 1_763_700_000u64,
        "tool_version": "0.1.0",
        "hostname": "hostile",
        "kernel_release": "6.1.0-test",
        "compression": compression,
        "sets": sets.iter().map(|s| json!({
            "number": s.number,
            "file": media::set_file(s.number, s.compression),
            "bytes": s.bytes.len(),
            "tar_bytes": s.tar_bytes,
            "entries": 0,
            "b3": to_hex(blake3::hash(&s.bytes).as_bytes()),
            "hashes": media::hash_list_file(s.number),
            "hashes_b3": to_hex(blake3::hash(&s.hash_list).as_bytes()),
        })).collect::<Vec<_>>(),
    })
}

/// Writes volume `volume` as `out/rescue-N/` with `manifest` and the sets' files.
pub fn write_volume(out: &Path, volume: u32, manifest: &Value, sets: &[SetFile]) -> PathBuf {
    let dir = out.join(format!("rescue-{volume}"));
    fs::create_dir_all(dir.join("rescue")).unwrap();
    fs::create_dir_all(dir.join("sets")).unwrap();
    fs::write(
        dir.join(media::MANIFEST_PATH.trim_start_matches('/')),
        serde_json::to_vec_pretty(manifest).unwrap(),
    )
    .unwrap();
    for s in sets {
        fs::write(dir.join(media::set_file(s.number, s.compression)), &s.bytes).unwrap();
        fs::write(dir.join(media::hash_list_file(s.number)), &s.hash_list).unwrap();
    }
    dir
}

/// A one-volume backup of `sets`, with a manifest that matches them.
pub fn one_volume(out: &Path, sets: &[SetFile]) -> PathBuf {
    write_volume(out, 1, &manifest(1, 1, sets), sets)
}

/// How a command run under limits ended.
#[derive(Debug)]
pub struct Limited {
    pub output: Output,
    pub seconds: f64,
}

impl Limited {
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn report(&self) -> String {
        format!(
            "exit {:?} after {:.1} s\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.output.status.code(),
            self.seconds,
            String::from_utf8_lossy(&self.output.stdout),
            self.stderr()
        )
    }
}

/// Runs `program args` with at most `memory` bytes of address space and killed after
/// `limit` (prlimit and timeout from util-linux and coreutils do the limiting).
pub fn run_limited(program: &Path, args: &[&str], memory: u64, limit: Duration) -> Limited {
    let started = Instant::now();
    let output = Command::new("timeout")
        .arg("--signal=KILL")
        .arg(format!("{}s", limit.as_secs()))
        .arg("prlimit")
        .arg(format!("--as={memory}"))
        .arg("--")
        .arg(program)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("timeout and prlimit run");
    Limited {
        output,
        seconds: started.elapsed().as_secs_f64(),
    }
}
