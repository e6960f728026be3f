//! `mkrescue verify --media PATH [--against ROOT]`: re-reads every volume of a backup and
//! checks it, then (with `--against`) compares the catalog with a live tree, as Mondo's
//! `-V` does.
//!
//! The media check, for every set every manifest lists: the set file's size and BLAKE3
//! against the manifest, the hash list's BLAKE3 too; then the set is decompressed and every
//! tar entry read: its path must be the next one the catalog gives this set (catalog and
//! set are both in the order of the sorted walk), and every regular file's content must
//! have the BLAKE3 and size of its hash list line (joined by catalog index). A set that
//! cannot be read to its end names the files it no longer holds: the entry it broke in and
//! every later one the catalog gives the set. A missing set file names its files from the
//! catalog, and so do the sets of a missing volume.
//!
//! The comparison walks ROOT in the same sorted order as the catalog and merges the two
//! streams: files missing from ROOT, files changed (type, size, mtime, mode, owner, link
//! target, device number; the content's BLAKE3 for regular files whose size and mtime
//! match), and files in ROOT the catalog does not have. It does not cross into other
//! filesystems, except where the catalog holds files below a mount point.
//!
//! Memory stays bounded: the catalog, the hash lists and the sets are streamed; only the
//! first `--show` paths of each list are kept, with counts.

use anyhow::Context;
use clap::Args;
use rescue_core::archive::{ArchiveError, EntryKind, TarReader};
use rescue_core::catalog::{
    to_hex, CatalogKind, CatalogReader, CatalogRecord, HashListReader, HashRecord,
};
use rescue_core::compare::{
    compare_tree, hash_stream, show_path, walk_cmp, CompareError, CompareOptions, CompareReport,
    FileList,
};
use rescue_core::media::{Compression, CoveredFile, SetInfo, CATALOG_PATH, MOUNTLIST_PATH};
use rescue_core::signature::Trust;
use rescue_core::size::format_bytes;
use rescue_core::volume::{scan_volumes_with, Volume, VolumeError, VolumeKind, MAX_MOUNTLIST};
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::fs;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The media: an ISO image, a block device, a volume directory, or a directory holding
    /// the volumes (rescue-1.iso, rescue-2.iso ... or rescue-1/, rescue-2/ ...)
    #[arg(long, value_name = "PATH")]
    pub media: PathBuf,

    /// Also compare the backup's catalog with the live tree under ROOT: files missing,
    /// changed (content included) and new
    #[arg(long, value_name = "ROOT")]
    pub against: Option<PathBuf>,

    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,

    /// How many paths to name in each list (the rest are counted)
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub show: usize,

    /// Accept only volumes whose manifest is signed by this ed25519 public key (PEM, as
    /// `openssl pkey -in KEY.pem -pubout` writes it); any other volume is a problem
    #[arg(long, value_name = "PUB")]
    pub trusted_key: Option<PathBuf>,
}

/// What to verify.
#[derive(Debug, Clone)]
pub struct Options {
    pub media: PathBuf,
    pub against: Option<PathBuf>,
    /// Paths named in each list; the rest are counted.
    pub show: usize,
    /// Which volumes are accepted (`--trusted-key`).
    pub trust: Trust,
}

impl Options {
    /// The options of the command line; reads the trusted key.
    pub fn from_args(a: &VerifyArgs) -> anyhow::Result<Options> {
        Ok(Options {
            media: a.media.clone(),
            against: a.against.clone(),
            show: a.show,
            trust: Trust::from_key_file(a.trusted_key.as_deref()).context("--trusted-key")?,
        })
    }
}

/// Runs `mkrescue verify`: prints the report, returns 0 when the media are sound (and the
/// live tree is as the catalog says), else 1.
pub fn run(args: &VerifyArgs) -> anyhow::Result<i32> {
    let report = verify(&Options::from_args(args)?)?;
    if args.json {
        let text = serde_json::to_string_pretty(&report)?;
        println!("{text}");
    } else {
        print!("{}", render_text(&report));
    }
    Ok(if report.clean { 0 } else { 1 })
}

// ---------------------------------------------------------------------------------------
// The report.

/// Everything verify found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The `--media` path.
    pub media: String,
    pub backup_id: Option<String>,
    pub hostname: Option<String>,
    pub volumes: VolumesSummary,
    pub sets: SetsSummary,
    /// Tar entries read.
    pub entries: u64,
    /// Regular-file entries (whole files and slices) whose content was read and hashed.
    pub files: u64,
    /// Their content, in bytes (holes of sparse files included).
    pub content_bytes: u64,
    /// Bytes of set files read (compressed).
    pub set_bytes: u64,
    pub problems: Vec<Problem>,
    /// What the backup itself recorded (files that changed or could not be read while
    /// they were backed up, entries that vanished) and other remarks: not problems of the
    /// media.
    pub warnings: Vec<String>,
    /// Warnings beyond the ones listed.
    pub warnings_more: u64,
    /// The public key (hex) every volume kept was found signed by (`--trusted-key`).
    pub signed_by: Option<String>,
    /// The comparison with the live tree (`--against`).
    pub against: Option<CompareReport>,
    /// No problem, and (with `--against`) no difference.
    pub clean: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct VolumesSummary {
    /// How many volumes the backup has, when a volume found says it.
    pub expected: Option<u32>,
    pub found: Vec<VolumeFound>,
    /// Volume numbers not found (with `expected` unknown: the one after the last found).
    pub missing: Vec<u32>,
    /// Where they were looked for.
    pub looked_in: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VolumeFound {
    pub number: u32,
    pub path: String,
    /// "iso", "device" or "dir".
    pub kind: &'static str,
    pub label: String,
    pub sets: Vec<u32>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SetsSummary {
    /// Sets the manifests list.
    pub listed: u32,
    /// Sets read and found sound.
    pub good: u32,
    /// Sets with a problem.
    pub bad: Vec<u32>,
    /// Sets the catalog refers to that no volume found lists.
    pub not_found: Vec<u32>,
    /// Sets not found beyond the first [`MAX_LISTED_SETS`] listed (a catalog may name set
    /// numbers far past any volume's).
    #[serde(skip_serializing_if = "is_zero")]
    pub not_found_more: u64,
}

/// One problem: with the volume or set it concerns and the files it affects.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set: Option<u32>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<FileList>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A volume of the sequence 1..N was not found.
    VolumeMissing,
    /// A volume that could not be opened or whose manifest could not be read.
    VolumeUnreadable,
    /// A volume refused because its manifest is not signed by the trusted key.
    VolumeUntrusted,
    /// A volume of another backup among the ones given.
    VolumeForeign,
    /// Two volumes with one number.
    VolumeDuplicate,
    /// The manifests disagree on how many volumes there are.
    VolumeCount,
    /// Volume 1 has no catalog, or it cannot be read.
    Catalog,
    /// Volume 1's mountlist is missing, or is not as its manifest records it.
    Mountlist,
    /// Sets the catalog refers to that are on no volume found.
    SetsNotFound,
    /// Two manifests list one set.
    SetDuplicate,
    /// A set file that is not there.
    SetMissing,
    /// A set file shorter than the manifest says.
    SetTruncated,
    /// A set file whose BLAKE3 differs, or that cannot be read to its end.
    SetCorrupted,
    /// A sound set file (its BLAKE3 matches) that disagrees with its manifest entry, the
    /// catalog or its hash list.
    SetMismatch,
    /// A hash list that is not there.
    HashListMissing,
    /// A hash list whose BLAKE3 differs, or that cannot be read.
    HashListCorrupted,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match &self.files {
            Some(files) if !files.is_empty() => write!(f, ": {files}"),
            _ => Ok(()),
        }
    }
}

/// The report as text, as `mkrescue verify` prints it.
pub fn render_text(r: &Report) -> String {
    let mut out = String::new();
    let id = r.backup_id.as_deref().unwrap_or("?");
    let _ = write!(out, "verify {}: backup {id}", r.media);
    if let Some(host) = &r.hostname {
        let _ = write!(out, " of {host}");
    }
    match r.volumes.expected {
        Some(n) => {
            let _ = writeln!(out, ", {n} volume{}", plural(u64::from(n)));
        }
        None => out.push('\n'),
    }
    for v in &r.volumes.found {
        let _ = writeln!(
            out,
            "  volume {}: {} ({}, {} set{})",
            v.number,
            v.path,
            v.label,
            v.sets.len(),
            plural(v.sets.len() as u64)
        );
    }
    if let Some(key) = &r.signed_by {
        let _ = writeln!(out, "  signed: every volume above by the trusted key {key}");
    }
    if !r.problems.is_empty() {
        let _ = writeln!(out, "problems:");
        for p in &r.problems {
            let _ = writeln!(out, "  {p}");
        }
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(out, "warnings:");
        for w in &r.warnings {
            let _ = writeln!(out, "  {w}");
        }
        if r.warnings_more > 0 {
            let _ = writeln!(out, "  and {} more", r.warnings_more);
        }
    }
    if let Some(a) = &r.against {
        let _ = writeln!(
            out,
            "against {}: {} entr{} compared, {} missing, {} changed, {} new{}",
            a.root,
            a.compared,
            if a.compared == 1 { "y" } else { "ies" },
            a.missing.count,
            a.changed.count,
            a.extra.count,
            if a.errors.count > 0 {
                format!(", {} unreadable", a.errors.count)
            } else {
                String::new()
            }
        );
        for p in &a.missing.paths {
            let _ = writeln!(out, "  missing: {p}");
        }
        more_line(&mut out, "missing", &a.missing);
        for c in &a.changed.files {
            let _ = writeln!(out, "  changed: {} ({})", c.path, c.what.join(", "));
        }
        let unlisted = a.changed.unlisted();
        if unlisted > 0 {
            let _ = writeln!(out, "  changed: ... and {unlisted} more");
        }
        for p in &a.extra.paths {
            let _ = writeln!(out, "  new: {p}");
        }
        more_line(&mut out, "new", &a.extra);
        for p in &a.errors.paths {
            let _ = writeln!(out, "  unreadable: {p}");
        }
        more_line(&mut out, "unreadable", &a.errors);
        if a.content_unchecked > 0 {
            let _ = writeln!(
                out,
                "  content not compared for {} file{} (no hash on the volumes found, or \
                 stored while it changed)",
                a.content_unchecked,
                plural(a.content_unchecked)
            );
        }
    }
    let found = r.volumes.found.len();
    let volumes = match r.volumes.expected {
        Some(n) => format!("{found} of {n} volume{}", plural(u64::from(n))),
        None => format!("{found} volume{}", plural(found as u64)),
    };
    let mut sets = format!("{} set{}", r.sets.listed, plural(u64::from(r.sets.listed)));
    let mut parts = vec![format!("{} good", r.sets.good)];
    if !r.sets.bad.is_empty() {
        parts.push(format!("{} bad", r.sets.bad.len()));
    }
    if !r.sets.not_found.is_empty() {
        let count = r.sets.not_found.len() as u64 + r.sets.not_found_more;
        parts.push(format!("{count} not found"));
    }
    let _ = write!(sets, " ({})", parts.join(", "));
    let problems = r.problems.len() as u64;
    let mut verdict = match problems {
        0 => "no problems".to_string(),
        n => format!("{n} problem{}", plural(n)),
    };
    if let Some(a) = &r.against {
        let d = a.differences();
        let _ = write!(verdict, ", {} difference{} from {}", d, plural(d), a.root);
    }
    let _ = writeln!(
        out,
        "summary: {volumes}, {sets}, {} files ({}) in {} of sets checked: {verdict}",
        r.files,
        format_bytes(r.content_bytes),
        format_bytes(r.set_bytes),
    );
    out
}

fn more_line(out: &mut String, what: &str, list: &FileList) {
    let more = list.unlisted();
    if more > 0 {
        let _ = writeln!(out, "  {what}: ... and {more} more");
    }
}

/// Set numbers listed one by one in [`SetsSummary::not_found`]; the rest are counted.
pub const MAX_LISTED_SETS: usize = 100_000;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

// ---------------------------------------------------------------------------------------
// Reading helpers.

/// Counts what passes through, and hashes it with BLAKE3 when asked.
struct Tap<R> {
    inner: R,
    hasher: Option<blake3::Hasher>,
    bytes: u64,
}

impl<R: Read> Tap<R> {
    fn hashing(inner: R) -> Tap<R> {
        Tap {
            inner,
            hasher: Some(blake3::Hasher::new()),
            bytes: 0,
        }
    }

    fn counting(inner: R) -> Tap<R> {
        Tap {
            inner,
            hasher: None,
            bytes: 0,
        }
    }

    /// Reads the rest, so the count and hash cover everything.
    fn drain(&mut self, buf: &mut [u8]) -> io::Result<()> {
        loop {
            match self.read(buf) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn hex(&self) -> String {
        self.hasher
            .as_ref()
            .map(|h| to_hex(h.finalize().as_bytes()))
            .unwrap_or_default()
    }
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        self.bytes += n as u64;
        Ok(n)
    }
}

/// The decompressed stream of a set.
fn decompressor<'a>(raw: &'a mut dyn Read, c: Compression) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match c {
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(raw)?),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            128 << 10,
            raw,
        ))),
        Compression::None => Box::new(BufReader::with_capacity(256 << 10, raw)),
    })
}

/// How a set file is compressed: by its name when that says ("set-00001.tar.gz"), else as
/// the manifest says.
fn compression_of(file: &str, manifest: Compression) -> Compression {
    Compression::ALL
        .into_iter()
        .find(|c| file.ends_with(&format!(".{}", c.extension())))
        .unwrap_or(manifest)
}

// ---------------------------------------------------------------------------------------
// The catalog, set by set.

type Catalog = CatalogReader<Box<dyn Read + Send>>;

/// Walks the catalog once, handing out the records of each set in turn.
struct CatalogCursor {
    reader: Option<Catalog>,
    /// There is a catalog (it may be read to its end by now).
    present: bool,
    peeked: Option<CatalogRecord>,
    /// The last item read was an error.
    last_failed: bool,
    /// The catalog ended with an error: the rest of it is unknown.
    broken: bool,
    /// The set the peeked record (one that goes on in later sets) was handed out for.
    handed_for: Option<u32>,
    errors: Vec<String>,
    errors_more: u64,
}

const MAX_CATALOG_ERRORS: usize = 10;

fn last_set(r: &CatalogRecord) -> u32 {
    r.set.saturating_add(r.slices.saturating_sub(1))
}

impl CatalogCursor {
    fn new(reader: Option<Catalog>) -> CatalogCursor {
        CatalogCursor {
            present: reader.is_some(),
            reader,
            peeked: None,
            last_failed: false,
            broken: false,
            handed_for: None,
            errors: Vec::new(),
            errors_more: 0,
        }
    }

    /// Whether records can be matched: there is a catalog and it has not broken off.
    fn usable(&self) -> bool {
        self.present && !self.broken
    }

    fn peek(&mut self) -> Option<&CatalogRecord> {
        if self.peeked.is_none() {
            let reader = self.reader.as_mut()?;
            loop {
                match reader.next() {
                    Some(Ok(r)) => {
                        self.last_failed = false;
                        self.handed_for = None;
                        self.peeked = Some(r);
                        break;
                    }
                    Some(Err(e)) => {
                        self.last_failed = true;
                        if self.errors.len() < MAX_CATALOG_ERRORS {
                            self.errors.push(e.to_string());
                        } else {
                            self.errors_more += 1;
                        }
                    }
                    None => {
                        if self.last_failed {
                            self.broken = true;
                        }
                        self.reader = None;
                        break;
                    }
                }
            }
        }
        self.peeked.as_ref()
    }

    /// The next record set `n` holds, if the next record is one. A record that goes on in
    /// a later set (a sliced file) stays for that set too.
    fn peek_for(&mut self, n: u32) -> Option<&CatalogRecord> {
        let handed = self.handed_for == Some(n);
        let r = self.peek()?;
        (r.set <= n && last_set(r) >= n && !handed).then_some(())?;
        self.peeked.as_ref()
    }

    fn next_for(&mut self, n: u32) -> Option<CatalogRecord> {
        let r = self.peek_for(n)?;
        if last_set(r) > n {
            let r = r.clone();
            self.handed_for = Some(n);
            return Some(r);
        }
        self.peeked.take()
    }

    /// Takes the records that belong only to sets before `n` (sets not read: on a volume
    /// not found).
    fn take_before(&mut self, n: u32, sink: &mut dyn FnMut(&CatalogRecord)) {
        while let Some(r) = self.peek() {
            if last_set(r) >= n {
                return;
            }
            sink(r);
            self.peeked = None;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Verifying.

/// Where a set is: the volume (index into the volumes found) and the manifest's entry.
#[derive(Debug, Clone)]
struct SetAt {
    volume: usize,
    info: SetInfo,
}

struct Verifier<'a> {
    opts: &'a Options,
    report: Report,
    buf: Vec<u8>,
}

/// Reads and checks the backup at `opts.media` (and compares with `opts.against`). An error
/// only when there is nothing to verify (no volume found); everything else is in the
/// report.
pub fn verify(opts: &Options) -> anyhow::Result<Report> {
    if let Some(root) = &opts.against {
        let meta =
            fs::symlink_metadata(root).with_context(|| format!("--against {}", root.display()))?;
        if !meta.is_dir() {
            anyhow::bail!("--against {}: not a directory", root.display());
        }
    }
    let scan = scan_volumes_with(&opts.media, &opts.trust)
        .with_context(|| format!("looking for rescue volumes at {}", opts.media.display()))?;
    let mut v = Verifier {
        opts,
        report: Report {
            media: opts.media.display().to_string(),
            backup_id: None,
            hostname: None,
            volumes: VolumesSummary {
                expected: None,
                found: Vec::new(),
                missing: Vec::new(),
                looked_in: scan.looked_in.display().to_string(),
            },
            sets: SetsSummary::default(),
            entries: 0,
            files: 0,
            content_bytes: 0,
            set_bytes: 0,
            problems: Vec::new(),
            warnings: Vec::new(),
            warnings_more: 0,
            signed_by: None,
            against: None,
            clean: false,
        },
        buf: vec![0u8; 256 << 10],
    };
    for e in &scan.unreadable {
        let kind = match e {
            VolumeError::Untrusted { .. } => ProblemKind::VolumeUntrusted,
            _ => ProblemKind::VolumeUnreadable,
        };
        v.problem(kind, None, None, rescue_core::error_text::chain(e), None);
    }
    let volumes = v.choose_volumes(scan.volumes, &scan.looked_in, scan.searched);
    if let Trust::SignedBy(key) = &opts.trust {
        v.report.signed_by = Some(key.fingerprint());
    }
    v.check_mountlist(&volumes);
    let sets = v.sets_of(&volumes);
    v.verify_sets(&volumes, &sets);
    if let Some(root) = &opts.against {
        let against = v.compare_with(&volumes, root);
        v.report.against = Some(against);
    }
    v.report.clean = v.report.problems.is_empty()
        && v.report
            .against
            .as_ref()
            .is_none_or(|a| a.differences() == 0);
    Ok(v.report)
}

impl Verifier<'_> {
    fn problem(
        &mut self,
        kind: ProblemKind,
        volume: Option<u32>,
        set: Option<u32>,
        message: String,
        files: Option<FileList>,
    ) {
        self.report.problems.push(Problem {
            kind,
            volume,
            set,
            message,
            files,
        });
    }

    fn warn(&mut self, text: String) {
        if self.report.warnings.len() < self.opts.show.max(20) {
            self.report.warnings.push(text);
        } else {
            self.report.warnings_more += 1;
        }
    }

    /// Keeps the volumes of one backup, one per number; reports the rest, and the numbers
    /// missing from 1..N.
    fn choose_volumes(
        &mut self,
        found: Vec<Volume>,
        looked_in: &Path,
        searched: bool,
    ) -> Vec<Volume> {
        // The backup of volume 1, else the one most volumes belong to.
        let id = found
            .iter()
            .find(|v| v.manifest().volume == 1)
            .or_else(|| {
                found.iter().max_by_key(|v| {
                    found
                        .iter()
                        .filter(|w| w.manifest().backup_id == v.manifest().backup_id)
                        .count()
                })
            })
            .map(|v| v.manifest().backup_id.clone());
        let mut kept: Vec<Volume> = Vec::new();
        for vol in found {
            let m = vol.manifest();
            if Some(&m.backup_id) != id.as_ref() {
                let message = format!(
                    "{} is volume {} of backup {}, not of backup {}: left out",
                    vol.path().display(),
                    m.volume,
                    m.backup_id,
                    id.as_deref().unwrap_or("?")
                );
                self.problem(ProblemKind::VolumeForeign, None, None, message, None);
                continue;
            }
            if m.volume == 0 {
                let message = format!(
                    "{}: its manifest says it is volume 0 (volumes count from 1): left out",
                    vol.path().display()
                );
                self.problem(ProblemKind::VolumeUnreadable, None, None, message, None);
                continue;
            }
            if let Some(other) = kept.iter().find(|k| k.manifest().volume == m.volume) {
                let message = format!(
                    "{} and {} are both volume {}: the second is left out",
                    other.path().display(),
                    vol.path().display(),
                    m.volume
                );
                self.problem(
                    ProblemKind::VolumeDuplicate,
                    Some(m.volume),
                    None,
                    message,
                    None,
                );
                continue;
            }
            if let Some(label) = vol.iso_label() {
                if label != m.label {
                    self.warn(format!(
                        "{}: the ISO volume id is {label} but its manifest says {}",
                        vol.path().display(),
                        m.label
                    ));
                }
            }
            kept.push(vol);
        }
        kept.sort_by_key(|v| v.manifest().volume);
        self.report.backup_id = id;
        self.report.hostname = kept.first().map(|v| v.manifest().hostname.clone());

        let counts: Vec<u32> = kept
            .iter()
            .filter_map(|v| v.manifest().volumes_known())
            .collect();
        let expected = counts.iter().copied().max();
        if counts.iter().any(|&c| Some(c) != expected) {
            let message = format!(
                "the manifests disagree on the number of volumes: {}",
                kept.iter()
                    .filter_map(|v| {
                        let m = v.manifest();
                        m.volumes_known()
                            .map(|n| format!("volume {} says {n}", m.volume))
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            self.problem(ProblemKind::VolumeCount, None, None, message, None);
        }
        let highest = kept.iter().map(|v| v.manifest().volume).max().unwrap_or(0);
        if let Some(n) = expected {
            if highest > n {
                let message = format!(
                    "volume {highest} was found, but the backup has {n} volume{}",
                    plural(u64::from(n))
                );
                self.problem(ProblemKind::VolumeCount, Some(highest), None, message, None);
            }
        }
        let seen = || -> String {
            let names: Vec<String> = kept.iter().map(|v| v.name()).collect();
            if searched {
                if names.is_empty() {
                    format!("looked in {}: no volume of it there", looked_in.display())
                } else {
                    format!(
                        "looked in {}: found {}",
                        looked_in.display(),
                        names.join(", ")
                    )
                }
            } else {
                format!(
                    "only {} was given; give the directory that holds every volume",
                    looked_in.display()
                )
            }
        };
        let mut missing = Vec::new();
        // Volumes before the last known one; with the count unknown, the ones below the
        // highest found (the last is reported on its own below).
        let (last, of) = match expected {
            Some(n) => (n, format!(" of {n}")),
            None => (highest.saturating_sub(1), String::new()),
        };
        for number in 1..=last {
            if !kept.iter().any(|v| v.manifest().volume == number) {
                missing.push(number);
                let message = format!("volume {number}{of} is missing ({})", seen());
                self.problem(
                    ProblemKind::VolumeMissing,
                    Some(number),
                    None,
                    message,
                    None,
                );
            }
        }
        if expected.is_none() && highest > 0 {
            missing.push(highest + 1);
            let message = format!(
                "the last volume is missing: no volume found says it is the last, so \
                 volume {} and any after it were not found ({})",
                highest + 1,
                seen()
            );
            self.problem(
                ProblemKind::VolumeMissing,
                Some(highest + 1),
                None,
                message,
                None,
            );
        }
        self.report.volumes.expected = expected;
        self.report.volumes.missing = missing;
        self.report.volumes.found = kept
            .iter()
            .map(|v| VolumeFound {
                number: v.manifest().volume,
                path: v.path().display().to_string(),
                kind: match v.kind() {
                    VolumeKind::Iso => "iso",
                    VolumeKind::Device => "device",
                    VolumeKind::Dir => "dir",
                },
                label: v.manifest().label.clone(),
                sets: v.manifest().sets.iter().map(|s| s.number).collect(),
            })
            .collect();
        kept
    }

    /// Every set the manifests list, by number.
    fn sets_of(&mut self, volumes: &[Volume]) -> BTreeMap<u32, SetAt> {
        let mut sets: BTreeMap<u32, SetAt> = BTreeMap::new();
        for (i, vol) in volumes.iter().enumerate() {
            for info in &vol.manifest().sets {
                if let Some(first) = sets.get(&info.number) {
                    let message = format!(
                        "set {} is listed by volume {} and by volume {}: the second is left out",
                        info.number,
                        volumes[first.volume].manifest().volume,
                        vol.manifest().volume
                    );
                    self.problem(
                        ProblemKind::SetDuplicate,
                        Some(vol.manifest().volume),
                        Some(info.number),
                        message,
                        None,
                    );
                    continue;
                }
                sets.insert(
                    info.number,
                    SetAt {
                        volume: i,
                        info: info.clone(),
                    },
                );
            }
        }
        self.report.sets.listed = sets.len() as u32;
        sets
    }

    /// Volume 1's mountlist must be there and have the BLAKE3 its manifest records (an
    /// older manifest records none: said as a warning).
    fn check_mountlist(&mut self, volumes: &[Volume]) {
        let Some(first) = volumes.iter().find(|v| v.manifest().volume == 1) else {
            return;
        };
        if let Err(e) = first.read_small(MOUNTLIST_PATH, MAX_MOUNTLIST) {
            let message = format!("{}: {e}", first.display_file(MOUNTLIST_PATH));
            self.problem(ProblemKind::Mountlist, Some(1), None, message, None);
        }
        for file in CoveredFile::ALL {
            if let Some(note) = first.uncovered_note(file) {
                self.warn(note);
            }
        }
    }

    /// The catalog of volume 1, if it is there and can be opened; says why not.
    fn open_catalog(&mut self, volumes: &[Volume]) -> Option<Catalog> {
        let Some(first) = volumes.iter().find(|v| v.manifest().volume == 1) else {
            self.warn(
                "volume 1 (with the catalog) was not found: the sets are checked against \
                 their hash lists only, and their files cannot be named beyond what the \
                 sets hold"
                    .into(),
            );
            return None;
        };
        let opened = first
            .open_file(CATALOG_PATH)
            .and_then(|r| CatalogReader::new(r).map_err(io::Error::other));
        match opened {
            Ok(reader) => Some(reader),
            Err(e) => {
                let message = if e.kind() == io::ErrorKind::NotFound {
                    format!(
                        "volume 1 ({}) has no {CATALOG_PATH}",
                        first.path().display()
                    )
                } else {
                    format!("{}: {e}", first.display_file(CATALOG_PATH))
                };
                self.problem(ProblemKind::Catalog, Some(1), None, message, None);
                None
            }
        }
    }

    fn verify_sets(&mut self, volumes: &[Volume], sets: &BTreeMap<u32, SetAt>) {
        let catalog = self.open_catalog(volumes);
        let mut cursor = CatalogCursor::new(catalog);
        let mut done = 0u32;
        for (&n, at) in sets {
            if n > done + 1 {
                self.sets_not_found(&mut cursor, done + 1, Some(n - 1));
            }
            self.verify_set(&volumes[at.volume], at, &mut cursor);
            done = n;
        }
        if cursor.usable() && cursor.peek().is_some() {
            self.sets_not_found(&mut cursor, done + 1, None);
        }
        if !cursor.errors.is_empty() {
            let mut message = format!(
                "the catalog cannot be read in full: {}",
                cursor.errors.join("; ")
            );
            if cursor.errors_more > 0 {
                let _ = write!(message, "; and {} more errors", cursor.errors_more);
            }
            if cursor.broken {
                message.push_str(" (the files after that point were not matched)");
            }
            self.problem(ProblemKind::Catalog, Some(1), None, message, None);
        }
    }

    /// Reports the sets `first..=last` (`last` None: to the end of the catalog), which no
    /// volume found holds, with the files they hold.
    fn sets_not_found(&mut self, cursor: &mut CatalogCursor, first: u32, last: Option<u32>) {
        let limit = self.opts.show;
        let mut files = FileList::default();
        let mut highest = last.unwrap_or(first);
        match last {
            Some(last) => {
                // A sliced file that goes on past the gap is held by it too.
                cursor.take_before(last + 1, &mut |r| files.push(&r.path, limit));
                if let Some(r) = cursor.peek() {
                    if r.set <= last && last_set(r) >= first {
                        files.push(&r.path.clone(), limit);
                    }
                }
            }
            None => {
                while let Some(r) = cursor.peek() {
                    highest = highest.max(last_set(r));
                    files.push(&r.path.clone(), limit);
                    cursor.peeked = None;
                }
            }
        }
        if last.is_none() && files.is_empty() {
            return;
        }
        let range = if highest > first {
            format!("sets {first}-{highest} are")
        } else {
            format!("set {first} is")
        };
        let why = if self.report.volumes.missing.is_empty() {
            "listed by no manifest of the volumes found".to_string()
        } else {
            let missing: Vec<String> = self
                .report
                .volumes
                .missing
                .iter()
                .map(u32::to_string)
                .collect();
            format!(
                "on no volume found (missing: volume {})",
                missing.join(", ")
            )
        };
        let message = if cursor.usable() || !files.is_empty() {
            format!(
                "{range} {why}: {} file{} not verified",
                files.count,
                plural(files.count)
            )
        } else {
            format!("{range} {why}: not verified")
        };
        // Listed one by one up to a bound, counted beyond it: never one item per number
        // of a range a damaged catalog may make huge.
        let listed = &mut self.report.sets.not_found;
        let total = u64::from(highest.saturating_sub(first)) + 1;
        let take = total.min(MAX_LISTED_SETS.saturating_sub(listed.len()) as u64) as u32;
        if take > 0 {
            listed.extend(first..=first + (take - 1));
        }
        self.report.sets.not_found_more += total - u64::from(take);
        self.problem(
            ProblemKind::SetsNotFound,
            None,
            Some(first),
            message,
            Some(files),
        );
    }

    /// Checks the hash list's BLAKE3 and opens it for reading its lines.
    fn open_hash_list(
        &mut self,
        vol: &Volume,
        info: &SetInfo,
        bad: &mut bool,
    ) -> Option<HashListReader<Box<dyn Read + Send>>> {
        let number = vol.manifest().volume;
        let shown = vol.display_file(&info.hashes);
        let hashed = vol
            .open_file(&info.hashes)
            .and_then(|mut r| hash_stream(&mut r, &mut self.buf));
        match hashed {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                *bad = true;
                let message = format!(
                    "set {}: its hash list {shown} is missing: the content of its files \
                     cannot be checked one by one",
                    info.number
                );
                self.problem(
                    ProblemKind::HashListMissing,
                    Some(number),
                    Some(info.number),
                    message,
                    None,
                );
                return None;
            }
            Err(e) => {
                *bad = true;
                let message = format!("set {}: reading its hash list {shown}: {e}", info.number);
                self.problem(
                    ProblemKind::HashListCorrupted,
                    Some(number),
                    Some(info.number),
                    message,
                    None,
                );
                return None;
            }
            Ok((b3, _)) if to_hex(&b3) != info.hashes_b3.to_ascii_lowercase() => {
                *bad = true;
                let message = format!(
                    "set {}: its hash list {shown} is corrupted (its BLAKE3 differs from the \
                     manifest's)",
                    info.number
                );
                self.problem(
                    ProblemKind::HashListCorrupted,
                    Some(number),
                    Some(info.number),
                    message,
                    None,
                );
            }
            Ok(_) => {}
        }
        vol.open_file(&info.hashes)
            .ok()
            .and_then(|r| HashListReader::new(r).ok())
    }

    fn verify_set(&mut self, vol: &Volume, at: &SetAt, cursor: &mut CatalogCursor) {
        let info = &at.info;
        let n = info.number;
        let volume = vol.manifest().volume;
        let limit = self.opts.show;
        let compression = compression_of(&info.file, vol.manifest().compression);
        let title = format!("set {n} (volume {volume}, {})", info.file);
        let mut bad = false;
        let mut hashes = self.open_hash_list(vol, info, &mut bad);
        let have_hashes = hashes.is_some();

        let raw = match vol.open_file(&info.file) {
            Ok(r) => r,
            Err(e) => {
                let mut files = FileList::default();
                while let Some(r) = cursor.next_for(n) {
                    files.push(&r.path, limit);
                }
                let (kind, what) = if e.kind() == io::ErrorKind::NotFound {
                    (ProblemKind::SetMissing, "is missing".to_string())
                } else {
                    (ProblemKind::SetCorrupted, format!("cannot be read: {e}"))
                };
                let message = if cursor.usable() {
                    format!(
                        "{title} {what}: {} file{} lost",
                        files.count,
                        plural(files.count)
                    )
                } else {
                    format!("{title} {what}")
                };
                self.problem(kind, Some(volume), Some(n), message, Some(files));
                self.report.sets.bad.push(n);
                return;
            }
        };

        let mut check = SetCheck::default();
        let mut raw = Tap::hashing(raw);
        let mut tar_bytes = 0u64;
        match decompressor(&mut raw, compression) {
            Err(e) => check.broke = Some((0, format!("starting to decompress: {e}"), false)),
            Ok(dec) => {
                let mut tar_in = Tap::counting(dec);
                {
                    let mut tar = TarReader::new(&mut tar_in);
                    self.read_entries(&mut tar, n, cursor, &mut hashes, &mut check);
                }
                if check.broke.is_none() {
                    // The rest of the stream: the second end block, and anything after it.
                    if let Err(e) = tar_in.drain(&mut self.buf) {
                        check.broke = Some((tar_in.bytes, e.to_string(), false));
                    }
                }
                tar_bytes = tar_in.bytes;
            }
        }
        let raw_error = raw.drain(&mut self.buf).err();
        self.report.set_bytes += raw.bytes;

        // What the catalog gives this set and the set did not hold.
        while let Some(r) = cursor.next_for(n) {
            if check.broke.is_some() {
                check.affected.push(&r.path, limit);
            } else {
                check.not_in_set(&r, limit);
            }
        }
        // Hash list lines left over.
        if let Some(list) = hashes.as_mut() {
            if check.broke.is_none() {
                for h in list.by_ref() {
                    match h {
                        Ok(h) => check.hash_issue(format!(
                            "a hash list line for catalog index {} matches no file of the set",
                            h.index
                        )),
                        Err(e) => check.hash_issue(e.to_string()),
                    }
                }
            }
        }
        for w in std::mem::take(&mut check.warnings) {
            self.warn(w);
        }
        self.report.warnings_more += check.warnings_more;

        let b3_ok = raw.hex() == info.b3.to_ascii_lowercase();
        let size_ok = raw.bytes == info.bytes;
        let truncated = raw.bytes < info.bytes;
        let mut parts: Vec<String> = Vec::new();
        if truncated {
            parts.push(format!(
                "is truncated: {} of the {} bytes the manifest gives",
                raw.bytes, info.bytes
            ));
        } else if !size_ok {
            parts.push(format!(
                "is corrupted: {} bytes, the manifest gives {}",
                raw.bytes, info.bytes
            ));
        } else if !b3_ok {
            parts.push("is corrupted: its BLAKE3 differs from the manifest's".into());
        }
        match (&check.broke, &raw_error) {
            (Some((offset, reason, _)), _) => parts.push(format!(
                "unreadable from byte {offset} of its tar stream ({reason})"
            )),
            // Read to the end of the archive, but not to the end of the file.
            (None, Some(e)) => parts.push(format!("reading the set file: {e}")),
            (None, None) => {}
        }
        if !check.mismatched.is_empty() {
            parts.push(format!(
                "{} file{} differ{} from {} hash",
                check.mismatched.count,
                plural(check.mismatched.count),
                if check.mismatched.count == 1 { "s" } else { "" },
                if check.mismatched.count == 1 {
                    "its"
                } else {
                    "their"
                }
            ));
        }
        // Metadata that differs from the catalog in a set whose BLAKE3 is wrong is damage
        // tar has no checksum for (pax header records).
        let corrupt = !parts.is_empty() || !check.mismatched.is_empty();
        if corrupt && !check.missing.is_empty() {
            // Entries renamed by the damage: lost under their own names.
            parts.push(format!(
                "{} entr{} of the catalog not found in it{}",
                check.missing.count,
                if check.missing.count == 1 { "y" } else { "ies" },
                if check.unexpected.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", {} entr{} under names the catalog does not have",
                        check.unexpected.count,
                        if check.unexpected.count == 1 {
                            "y"
                        } else {
                            "ies"
                        }
                    )
                }
            ));
        }
        if corrupt && !check.meta_differs.is_empty() {
            parts.push(format!(
                "{} entr{} whose metadata differ from the catalog ({})",
                check.meta_differs.count,
                if check.meta_differs.count == 1 {
                    "y"
                } else {
                    "ies"
                },
                check
                    .meta_notes
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        let damaged = !parts.is_empty();
        if damaged {
            let mut files = check.mismatched.clone();
            files.extend(&check.meta_differs, limit);
            files.extend(&check.missing, limit);
            files.extend(&check.affected, limit);
            if check.broke.is_some() && !cursor.usable() {
                let left = info.entries.saturating_sub(check.entries);
                if left > 0 {
                    parts.push(format!(
                        "{left} more entr{} by the manifest's count (not named: no catalog)",
                        if left == 1 { "y" } else { "ies" }
                    ));
                }
            }
            if files.is_empty() && check.broke.is_none() {
                parts.push(
                    "every entry reads and matches its hash: the damage is outside the \
                     files' data"
                        .into(),
                );
            }
            let kind = if truncated {
                ProblemKind::SetTruncated
            } else if !b3_ok || check.broke.is_some() || raw_error.is_some() {
                ProblemKind::SetCorrupted
            } else {
                ProblemKind::SetMismatch
            };
            // "set 3 (...) is corrupted: ...; ...", or "set 3 (...): 1 file differs ...".
            let sep = if parts[0].starts_with("is ") {
                " "
            } else {
                ": "
            };
            let message = format!("{title}{sep}{}", parts.join("; "));
            self.problem(kind, Some(volume), Some(n), message, Some(files));
            bad = true;
        } else {
            // A sound set file: it must also agree with its manifest entry, the catalog
            // and its hash list.
            let mut issues = Vec::new();
            for note in &check.missing_notes {
                self.warn(format!(
                    "set {n}: {note} is in the catalog but not in the set (it vanished while \
                     it was backed up)"
                ));
            }
            self.report.warnings_more += check
                .missing
                .count
                .saturating_sub(check.missing_notes.len() as u64);
            if check.entries + check.missing.count != info.entries {
                issues.push(format!(
                    "it holds {} entries, the manifest gives {}",
                    check.entries, info.entries
                ));
            }
            if tar_bytes != info.tar_bytes {
                issues.push(format!(
                    "its tar stream is {tar_bytes} bytes, the manifest gives {}",
                    info.tar_bytes
                ));
            }
            if !check.unexpected.is_empty() {
                issues.push(format!(
                    "{} entr{} the catalog does not give this set",
                    check.unexpected.count,
                    if check.unexpected.count == 1 {
                        "y"
                    } else {
                        "ies"
                    }
                ));
            }
            if have_hashes {
                issues.extend(check.hash_issues.iter().take(limit.max(1)).cloned());
                let more = check.hash_issues.len().saturating_sub(limit.max(1)) as u64
                    + check.hash_issues_more;
                if more > 0 {
                    issues.push(format!("and {more} more hash list problems"));
                }
            }
            for note in &check.meta_notes {
                self.warn(format!(
                    "set {n}: {note} (the catalog and the set disagree: the file changed \
                     between the two passes of the backup?)"
                ));
            }
            self.report.warnings_more += check
                .meta_differs
                .count
                .saturating_sub(check.meta_notes.len() as u64);
            if !issues.is_empty() {
                let message = format!("{title}: {}", issues.join("; "));
                let files = (!check.unexpected.is_empty()).then(|| check.unexpected.clone());
                self.problem(
                    ProblemKind::SetMismatch,
                    Some(volume),
                    Some(n),
                    message,
                    files,
                );
                bad = true;
            }
        }
        if bad {
            self.report.sets.bad.push(n);
        } else {
            self.report.sets.good += 1;
        }
    }

    /// Reads every entry of a set, matching it with the catalog and its hash list line.
    fn read_entries<R: Read>(
        &mut self,
        tar: &mut TarReader<R>,
        n: u32,
        cursor: &mut CatalogCursor,
        hashes: &mut Option<HashListReader<Box<dyn Read + Send>>>,
        check: &mut SetCheck,
    ) {
        let limit = self.opts.show;
        let mut pending: Option<HashRecord> = None;
        loop {
            let (meta, mut data) = match tar.next_entry() {
                Ok(Some(entry)) => entry,
                Ok(None) => return,
                Err(e) if !e.is_fatal() => {
                    check.warn(format!("set {n}: {e}"));
                    continue;
                }
                Err(e) => {
                    let (offset, reason, truncated) = describe_break(&e);
                    if let Some(path) = e.path() {
                        // The entry it broke in, unless it was already named.
                        if check.current.as_deref() != Some(path.as_bytes()) {
                            check.affected.push(path.as_bytes(), limit);
                        }
                    }
                    check.broke = Some((offset, reason, truncated));
                    return;
                }
            };
            check.entries += 1;
            self.report.entries += 1;
            check.current = Some(meta.path.clone());
            let record = if cursor.usable() {
                match_catalog(cursor, n, &meta.path, check, limit)
            } else {
                None
            };
            let differs = record
                .as_ref()
                .map(|r| meta_differences(r, &meta))
                .unwrap_or_default();
            let EntryKind::File { .. } = meta.kind else {
                if !differs.is_empty() {
                    check.meta_differ(&meta.path, &differs, limit);
                }
                continue;
            };
            // The hash list's size is what the entry stores: a sparse file's data extents.
            let stored = meta.payload_len();
            let content = hash_stream(&mut data, &mut self.buf);
            drop(data);
            let (b3, size) = match content {
                Ok(c) => c,
                Err(_) => {
                    // The stream broke inside this entry: the next call says where.
                    check.affected.push(&meta.path, limit);
                    continue;
                }
            };
            self.report.files += 1;
            self.report.content_bytes += size;
            let Some(list) = hashes.as_mut() else {
                continue;
            };
            let line = match &record {
                Some(r) if r.kind == CatalogKind::File => {
                    take_hash(list, &mut pending, Some(r.index), check)
                }
                Some(_) => None,
                None if cursor.usable() => None,
                None => take_hash(list, &mut pending, None, check),
            };
            let Some(line) = line else {
                if !differs.is_empty() {
                    check.meta_differ(&meta.path, &differs, limit);
                }
                if record.as_ref().is_some_and(|r| r.kind == CatalogKind::File) {
                    check.hash_issue(format!(
                        "{} has no line in the hash list",
                        show_path(&meta.path)
                    ));
                }
                continue;
            };
            if line.b3 != b3 || line.size != stored {
                check.mismatched.push(&meta.path, limit);
            } else if !differs.is_empty() && !line.changed && line.error.is_none() {
                // A file stored while it changed, or in place of one that could not be
                // read, has the metadata of that moment: only the hash line speaks for it.
                check.meta_differ(&meta.path, &differs, limit);
            }
            if let Some(e) = &line.error {
                check.warn(format!(
                    "set {n}: {} could not be read when it was backed up ({e}): the set holds \
                     zeros in its place",
                    show_path(&meta.path)
                ));
            } else if line.changed {
                check.warn(format!(
                    "set {n}: {} changed while it was backed up: the set holds it as it was read",
                    show_path(&meta.path)
                ));
            }
        }
    }
}

/// What reading one set found.
#[derive(Debug, Default)]
struct SetCheck {
    entries: u64,
    /// Catalog records of the set it does not hold (vanished while backed up, or
    /// renamed by damage), with their types.
    missing: FileList,
    missing_notes: Vec<String>,
    /// The path of the entry being read.
    current: Option<Vec<u8>>,
    /// Where the stream broke: (tar offset, why, truncated).
    broke: Option<(u64, String, bool)>,
    /// Files whose content differs from their hash.
    mismatched: FileList,
    /// Files lost where the stream broke: the one it broke in and every later one.
    affected: FileList,
    /// Entries the catalog does not give this set.
    unexpected: FileList,
    /// Entries whose metadata (type, mode, owner, mtime, size, link target, device)
    /// differ from their catalog record, and the first few of the differences.
    meta_differs: FileList,
    meta_notes: Vec<String>,
    hash_issues: Vec<String>,
    hash_issues_more: u64,
    warnings: Vec<String>,
    warnings_more: u64,
}

/// Per-set lists of remarks keep at most this many (the rest are counted).
const MAX_SET_NOTES: usize = 50;

impl SetCheck {
    fn warn(&mut self, text: String) {
        if self.warnings.len() < MAX_SET_NOTES {
            self.warnings.push(text);
        } else {
            self.warnings_more += 1;
        }
    }

    fn hash_issue(&mut self, text: String) {
        if self.hash_issues.len() < MAX_SET_NOTES {
            self.hash_issues.push(text);
        } else {
            self.hash_issues_more += 1;
        }
    }

    fn not_in_set(&mut self, r: &CatalogRecord, limit: usize) {
        self.missing.push(&r.path, limit);
        if self.missing_notes.len() < MAX_SET_NOTES {
            self.missing_notes
                .push(format!("{} ({})", show_path(&r.path), r.kind.type_name()));
        }
    }

    fn meta_differ(&mut self, path: &[u8], what: &[String], limit: usize) {
        self.meta_differs.push(path, limit);
        if self.meta_notes.len() < MAX_SET_NOTES {
            self.meta_notes
                .push(format!("{}: {}", show_path(path), what.join(", ")));
        }
    }
}

/// How a set's entry differs from its catalog record (pass 1 read the metadata for the
/// catalog, pass 2 again for the set: they differ only when the file changed in between,
/// or when the set is damaged where tar has no checksum, in a pax header's records).
fn meta_differences(r: &CatalogRecord, m: &rescue_core::archive::EntryMeta) -> Vec<String> {
    let mut d = Vec::new();
    if r.kind.type_name() != m.kind.name() {
        d.push(format!(
            "a {} in the catalog, a {} in the set",
            r.kind.type_name(),
            m.kind.name()
        ));
        return d;
    }
    if m.mode & 0o7777 != r.mode {
        d.push(format!("mode {:o} -> {:o}", r.mode, m.mode & 0o7777));
    }
    if (m.uid, m.gid) != (r.uid, r.gid) {
        d.push(format!("owner {}:{} -> {}:{}", r.uid, r.gid, m.uid, m.gid));
    }
    if m.mtime != r.mtime {
        d.push(format!(
            "mtime {}.{:09} -> {}.{:09}",
            r.mtime.0, r.mtime.1, m.mtime.0, m.mtime.1
        ));
    }
    match (&r.kind, &m.kind) {
        (CatalogKind::File, EntryKind::File { size, .. }) => {
            let total = m.slice.map_or(*size, |s| s.total);
            if total != r.size {
                d.push(format!("size {} -> {total}", r.size));
            }
        }
        (CatalogKind::Symlink { target }, EntryKind::Symlink { target: t }) if target != t => {
            d.push(format!("target {} -> {}", show_path(target), show_path(t)));
        }
        (CatalogKind::Char { major, minor }, EntryKind::CharDevice { major: a, minor: b })
        | (CatalogKind::Block { major, minor }, EntryKind::BlockDevice { major: a, minor: b })
            if (major, minor) != (a, b) =>
        {
            d.push(format!("device {major}:{minor} -> {a}:{b}"));
        }
        _ => {}
    }
    d
}

/// (tar offset, a short reason, whether the data simply ended).
fn describe_break(e: &ArchiveError) -> (u64, String, bool) {
    match e {
        ArchiveError::Io { offset, source } => (*offset, source.to_string(), false),
        ArchiveError::Truncated { offset, .. } => (*offset, "the data ends there".into(), true),
        ArchiveError::BadChecksum { offset } => (*offset, "bad header checksum".into(), false),
        ArchiveError::BadHeader { offset, reason, .. } => {
            (*offset, format!("bad header: {reason}"), false)
        }
        other => (0, other.to_string(), false),
    }
}

/// The catalog record a set's entry stands for: the next one of the set when the paths
/// agree. Records before the entry's path are not in the set (vanished while backed up);
/// an entry before the next record is not in the catalog.
fn match_catalog(
    cursor: &mut CatalogCursor,
    n: u32,
    path: &[u8],
    check: &mut SetCheck,
    limit: usize,
) -> Option<CatalogRecord> {
    loop {
        let Some(r) = cursor.peek_for(n) else {
            check.unexpected.push(path, limit);
            return None;
        };
        match walk_cmp(&r.path, path) {
            Ordering::Equal => return cursor.next_for(n),
            Ordering::Less => {
                let r = cursor.next_for(n)?;
                check.not_in_set(&r, limit);
            }
            Ordering::Greater => {
                check.unexpected.push(path, limit);
                return None;
            }
        }
    }
}

/// The hash list line of catalog index `index` (None: the next line, whatever it is).
/// Lines for indexes before it match no file of the set.
fn take_hash(
    list: &mut HashListReader<Box<dyn Read + Send>>,
    pending: &mut Option<HashRecord>,
    index: Option<u64>,
    check: &mut SetCheck,
) -> Option<HashRecord> {
    loop {
        let line = match pending.take() {
            Some(line) => line,
            None => match list.next()? {
                Ok(line) => line,
                Err(e) => {
                    check.hash_issue(e.to_string());
                    continue;
                }
            },
        };
        let Some(index) = index else {
            return Some(line);
        };
        match line.index.cmp(&index) {
            Ordering::Equal => return Some(line),
            Ordering::Less => check.hash_issue(format!(
                "a hash list line for catalog index {} matches no file of the set",
                line.index
            )),
            Ordering::Greater => {
                *pending = Some(line);
                return None;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Comparing with a live tree.

impl Verifier<'_> {
    fn compare_with(&mut self, volumes: &[Volume], root: &Path) -> CompareReport {
        let opts = CompareOptions {
            show: self.opts.show,
            skip: vec![self.opts.media.clone()],
        };
        let report = match compare_tree(volumes, root, &opts, &mut |_| {}) {
            Ok(report) => report,
            // Why the catalog cannot be read is the media check's problem to report.
            Err(CompareError::NoVolume1 | CompareError::Catalog { .. }) => {
                self.problem(
                    ProblemKind::Catalog,
                    Some(1),
                    None,
                    format!(
                        "--against {} needs the catalog of volume 1, which is not available",
                        root.display()
                    ),
                    None,
                );
                return CompareReport::new(root);
            }
        };
        // Stray hash list lines are reported by the media check, with their sets.
        let n = report.catalog_errors;
        if n > 0 {
            self.warn(format!(
                "--against: {n} catalog record{} could not be read and {} not compared",
                plural(n),
                if n == 1 { "was" } else { "were" }
            ));
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(index: u64, path: &str, set: u32, slices: u32) -> CatalogRecord {
        CatalogRecord {
            index,
            path: path.as_bytes().to_vec(),
            kind: CatalogKind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            user: None,
            group: None,
            mtime: (0, 0),
            size: 1,
            set,
            slices,
        }
    }

    #[test]
    fn the_catalog_cursor_hands_out_each_set_with_slices_in_every_set_they_touch() {
        let mut w = rescue_core::catalog::CatalogWriter::new(Vec::new()).unwrap();
        for r in [
            rec(0, "a", 1, 1),
            rec(1, "big", 1, 3),
            rec(2, "c", 3, 1),
            rec(3, "d", 4, 1),
            rec(4, "e", 6, 1),
        ] {
            w.write(&r).unwrap();
        }
        let bytes = w.finish().unwrap();
        let reader: Box<dyn Read + Send> = Box::new(io::Cursor::new(bytes));
        let mut c = CatalogCursor::new(Some(CatalogReader::new(reader).unwrap()));
        let take = |c: &mut CatalogCursor, n| {
            let mut v = Vec::new();
            while let Some(r) = c.next_for(n) {
                v.push(String::from_utf8(r.path).unwrap());
            }
            v
        };
        assert_eq!(take(&mut c, 1), ["a", "big"]);
        assert_eq!(take(&mut c, 2), ["big"]);
        assert_eq!(take(&mut c, 3), ["big", "c"]);
        let mut skipped = Vec::new();
        c.take_before(6, &mut |r| skipped.push(r.index));
        assert_eq!(skipped, [3]);
        assert_eq!(take(&mut c, 6), ["e"]);
        assert!(c.peek().is_none());
        assert!(!c.broken);
    }
}
