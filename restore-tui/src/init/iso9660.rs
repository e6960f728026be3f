//! Just enough ISO 9660 to recognise the boot media by its volume id, and to read a small
//! file from it without mounting it (when the kernel cannot mount it, and in test mode).
//!
//! Names are taken from Rock Ridge (NM) where the image has it, else the ISO 9660 name
//! without its `;1` version, compared without regard to case.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Size of an ISO 9660 logical block.
pub const SECTOR: usize = 2048;
/// The volume descriptors start at sector 16.
const FIRST_DESCRIPTOR: u64 = 16 * SECTOR as u64;
/// Volume descriptors looked at before giving up on a terminator.
const MAX_DESCRIPTORS: u64 = 32;
/// Directories larger than this are not ours.
const MAX_DIRECTORY: u32 = 1 << 20;

/// The volume id of a primary volume descriptor (type 1, "CD001", version 1): bytes 40..72,
/// without the padding. `None` for anything else, including a buffer shorter than a sector.
pub fn primary_volume_id(desc: &[u8]) -> Option<String> {
    if desc.len() < SECTOR || desc[0] != 1 || &desc[1..6] != b"CD001" || desc[6] != 1 {
        return None;
    }
    let id = &desc[40..72];
    let end = id
        .iter()
        .rposition(|&b| b != b' ' && b != 0)
        .map_or(0, |i| i + 1);
    Some(String::from_utf8_lossy(&id[..end]).into_owned())
}

/// Whether a volume id is the one looked for: exactly `wanted`, or without it any
/// `RESCUE_*` volume.
pub fn label_matches(volume_id: &str, wanted: Option<&str>) -> bool {
    match wanted {
        Some(w) => volume_id == w,
        None => volume_id.starts_with("RESCUE_"),
    }
}

/// Reads the primary volume descriptor of a device or image and returns it whole;
/// `None` when it holds no ISO 9660 file system (or is too short to).
pub fn read_primary(dev: &File) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; SECTOR];
    for i in 0..MAX_DESCRIPTORS {
        match dev.read_exact_at(&mut buf, FIRST_DESCRIPTOR + i * SECTOR as u64) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        if &buf[1..6] != b"CD001" {
            return Ok(None);
        }
        match buf[0] {
            1 => return Ok(primary_volume_id(&buf).map(|_| buf)),
            255 => return Ok(None),
            _ => {} // boot record, supplementary (Joliet) descriptor, ...
        }
    }
    Ok(None)
}

/// The volume id of a device or image, if it holds ISO 9660.
pub fn read_volume_id(dev: &File) -> io::Result<Option<String>> {
    Ok(read_primary(dev)?.and_then(|pvd| primary_volume_id(&pvd)))
}

/// One directory record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    /// Whether `name` came from Rock Ridge (compared exactly) or is an ISO 9660 name
    /// (compared without regard to case).
    pub rock_ridge: bool,
    pub extent: u32,
    pub size: u32,
    pub is_dir: bool,
}

impl Entry {
    fn is_named(&self, name: &str) -> bool {
        if self.rock_ridge {
            self.name == name
        } else {
            self.name.eq_ignore_ascii_case(name)
        }
    }
}

/// Parses the records of a directory's extent (skipping "." and ".."). Records never
/// cross a sector; a zero length byte means the rest of the sector is padding.
pub fn parse_directory(data: &[u8]) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut p = 0;
    while p < data.len() {
        let len = usize::from(data[p]);
        if len == 0 {
            p = (p / SECTOR + 1) * SECTOR;
            continue;
        }
        if len < 34 || p + len > data.len() {
            break;
        }
        let rec = &data[p..p + len];
        p += len;
        let name_len = usize::from(rec[32]);
        if 33 + name_len > len {
            continue;
        }
        let raw = &rec[33..33 + name_len];
        if raw == [0] || raw == [1] {
            continue;
        }
        let susp_start = 33 + name_len + usize::from(name_len % 2 == 0);
        let rr_name = rec.get(susp_start..).and_then(rock_ridge_name);
        let (name, rock_ridge) = match rr_name {
            Some(n) => (n, true),
            None => (iso_name(raw), false),
        };
        out.push(Entry {
            name,
            rock_ridge,
            extent: u32::from_le_bytes([rec[2], rec[3], rec[4], rec[5]]),
            size: u32::from_le_bytes([rec[10], rec[11], rec[12], rec[13]]),
            is_dir: rec[25] & 2 != 0,
        });
    }
    out
}

/// "MANIFEST.JSON;1" -> "MANIFEST.JSON"; "README." -> "README".
fn iso_name(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    let s = s.split(';').next().unwrap_or_default();
    s.strip_suffix('.').unwrap_or(s).to_string()
}

/// The Rock Ridge name in a record's system use area (NM entries, joined).
fn rock_ridge_name(area: &[u8]) -> Option<String> {
    let mut name: Option<Vec<u8>> = None;
    let mut q = 0;
    while q + 4 <= area.len() {
        let len = usize::from(area[q + 2]);
        if len < 4 || q + len > area.len() {
            break;
        }
        match &area[q..q + 2] {
            b"NM" if len >= 5 => {
                let flags = area[q + 4];
                // CURRENT / PARENT flags name "." and "..", never a file.
                if flags & 0b110 == 0 {
                    name.get_or_insert_with(Vec::new)
                        .extend_from_slice(&area[q + 5..q + len]);
                }
            }
            b"ST" => break,
            _ => {}
        }
        q += len;
    }
    name.map(|n| String::from_utf8_lossy(&n).into_owned())
}

/// Reads small files from an ISO 9660 image or device.
#[derive(Debug)]
pub struct Reader<'a> {
    dev: &'a File,
    root: Entry,
}

impl<'a> Reader<'a> {
    /// `None` when the device holds no ISO 9660 file system.
    pub fn open(dev: &'a File) -> io::Result<Option<Reader<'a>>> {
        let Some(pvd) = read_primary(dev)? else {
            return Ok(None);
        };
        // The root directory record sits at byte 156 of the primary volume descriptor.
        let rec = &pvd[156..190];
        let root = Entry {
            name: String::new(),
            rock_ridge: false,
            extent: u32::from_le_bytes([rec[2], rec[3], rec[4], rec[5]]),
            size: u32::from_le_bytes([rec[10], rec[11], rec[12], rec[13]]),
            is_dir: true,
        };
        Ok(Some(Reader { dev, root }))
    }

    /// The contents of the file at `path` (`rescue/manifest.json`), `None` when there is
    /// no such file. Files larger than `limit` bytes are an error.
    pub fn read_file(&self, path: &str, limit: u32) -> io::Result<Option<Vec<u8>>> {
        let mut cur = self.root.clone();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            if !cur.is_dir {
                return Ok(None);
            }
            if cur.size > MAX_DIRECTORY {
                return Err(io::Error::other(format!(
                    "directory of {} bytes on the way to {path}",
                    cur.size
                )));
            }
            let data = self.read_extent(&cur)?;
            match parse_directory(&data)
                .into_iter()
                .find(|e| e.is_named(part))
            {
                Some(e) => cur = e,
                None => return Ok(None),
            }
        }
        if cur.is_dir {
            return Ok(None);
        }
        if cur.size > limit {
            return Err(io::Error::other(format!(
                "{path} holds {} bytes, more than the {limit} expected",
                cur.size
            )));
        }
        self.read_extent(&cur).map(Some)
    }

    fn read_extent(&self, e: &Entry) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; e.size as usize];
        self.dev
            .read_exact_at(&mut buf, u64::from(e.extent) * SECTOR as u64)?;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pvd(volume_id: &str) -> Vec<u8> {
        let mut d = vec![0u8; SECTOR];
        d[0] = 1;
        d[1..6].copy_from_slice(b"CD001");
        d[6] = 1;
        d[40..72].fill(b' ');
        d[40..40 + volume_id.len()].copy_from_slice(volume_id.as_bytes());
        d
    }

    #[test]
    fn a_good_primary_volume_descriptor() {
        assert_eq!(
            primary_volume_id(&pvd("RESCUE_1A2B3C4D")).as_deref(),
            Some("RESCUE_1A2B3C4D")
        );
        let full = "RESCUE_0123456789ABCDEFGHIJKLMNO";
        assert_eq!(full.len(), 32);
        assert_eq!(primary_volume_id(&pvd(full)).as_deref(), Some(full));
        let mut nul_padded = pvd("RESCUE_X");
        nul_padded[48..72].fill(0);
        assert_eq!(primary_volume_id(&nul_padded).as_deref(), Some("RESCUE_X"));
        assert_eq!(primary_volume_id(&pvd("")).as_deref(), Some(""));
    }

    #[test]
    fn wrong_magic_type_version_or_a_short_buffer_is_not_one() {
        let mut d = pvd("RESCUE_X");
        d[1..6].copy_from_slice(b"CD002");
        assert_eq!(primary_volume_id(&d), None);
        let mut d = pvd("RESCUE_X");
        d[0] = 2; // supplementary (Joliet)
        assert_eq!(primary_volume_id(&d), None);
        let mut d = pvd("RESCUE_X");
        d[6] = 2;
        assert_eq!(primary_volume_id(&d), None);
        assert_eq!(primary_volume_id(&pvd("RESCUE_X")[..100]), None);
        assert_eq!(primary_volume_id(&[]), None);
    }

    #[test]
    fn labels_match_exactly_or_by_prefix() {
        assert!(label_matches("RESCUE_1A2B", Some("RESCUE_1A2B")));
        assert!(!label_matches("RESCUE_1A2B", Some("RESCUE_FFFF")));
        assert!(label_matches("RESCUE_1A2B", None));
        assert!(!label_matches("DEBIAN_12", None));
    }

    #[test]
    fn finds_the_primary_after_a_boot_record_and_reads_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("img");
        let mut img = vec![0u8; 16 * SECTOR];
        let mut boot = vec![0u8; SECTOR];
        boot[1..6].copy_from_slice(b"CD001");
        boot[6] = 1;
        img.extend(boot);
        img.extend(pvd("RESCUE_TEST"));
        std::fs::write(&path, &img).unwrap();
        let f = File::open(&path).unwrap();
        assert_eq!(read_volume_id(&f).unwrap().as_deref(), Some("RESCUE_TEST"));

        std::fs::write(&path, vec![0u8; 17 * SECTOR]).unwrap();
        let f = File::open(&path).unwrap();
        assert_eq!(read_volume_id(&f).unwrap(), None, "no CD001");
        std::fs::write(&path, vec![0u8; 1000]).unwrap();
        let f = File::open(&path).unwrap();
        assert_eq!(read_volume_id(&f).unwrap(), None, "shorter than 32 KiB");
    }

    fn record(name: &[u8], extent: u32, size: u32, dir: bool, susp: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; 33];
        r.extend_from_slice(name);
        if name.len() % 2 == 0 {
            r.push(0);
        }
        r.extend_from_slice(susp);
        r[0] = r.len() as u8;
        r[2..6].copy_from_slice(&extent.to_le_bytes());
        r[10..14].copy_from_slice(&size.to_le_bytes());
        r[25] = if dir { 2 } else { 0 };
        r[32] = name.len() as u8;
        r
    }

    fn nm(name: &str, flags: u8) -> Vec<u8> {
        let mut e = vec![b'N', b'M', (5 + name.len()) as u8, 1, flags];
        e.extend_from_slice(name.as_bytes());
        e
    }

    #[test]
    fn directory_records_with_and_without_rock_ridge() {
        let mut data = record(&[0], 20, 2048, true, &[]);
        data.extend(record(&[1], 18, 2048, true, &[]));
        let mut split_name = nm("manifest", 1);
        split_name.extend(nm(".json", 0));
        data.extend(record(b"MANIFEST.JSO;1", 33, 120, false, &split_name));
        data.extend(record(b"RESCUE", 21, 2048, true, &[]));
        // The rest of the sector is padding; the next record starts a new sector.
        data.resize(SECTOR, 0);
        data.extend(record(b"README.;1", 40, 7, false, &[]));
        let entries = parse_directory(&data);
        assert_eq!(
            entries,
            vec![
                Entry {
                    name: "manifest.json".into(),
                    rock_ridge: true,
                    extent: 33,
                    size: 120,
                    is_dir: false
                },
                Entry {
                    name: "RESCUE".into(),
                    rock_ridge: false,
                    extent: 21,
                    size: 2048,
                    is_dir: true
                },
                Entry {
                    name: "README".into(),
                    rock_ridge: false,
                    extent: 40,
                    size: 7,
                    is_dir: false
                },
            ]
        );
        assert!(entries[1].is_named("rescue"));
        assert!(!entries[0].is_named("MANIFEST.JSON"));
    }

    #[test]
    fn a_truncated_directory_ends_the_listing() {
        let mut data = record(b"A;1", 30, 1, false, &[]);
        data.extend(&record(b"B;1", 31, 1, false, &[])[..20]);
        let entries = parse_directory(&data);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].name, "A");
    }
}
