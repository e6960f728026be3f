//! Parsing /proc/self/mountinfo (see proc(5)), and the octal escapes the kernel writes in
//! paths there, in /proc/mounts and in /proc/swaps.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub mount_id: u32,
    pub parent_id: u32,
    pub major: u32,
    pub minor: u32,
    /// The directory of the filesystem that is mounted here ("/" unless a bind or subvolume).
    pub fs_root: PathBuf,
    pub mount_point: PathBuf,
    pub options: String,
    pub fs_type: String,
    pub source: String,
    pub super_options: String,
}

#[derive(Debug, thiserror::Error)]
#[error("mountinfo line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

pub fn parse(text: &str) -> Result<Vec<MountEntry>, ParseError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            parse_line(l).map_err(|message| ParseError {
                line: i + 1,
                message,
            })
        })
        .collect()
}

fn parse_line(line: &str) -> Result<MountEntry, String> {
    let fields: Vec<&str> = line.split(' ').collect();
    // Optional fields end at a lone "-"; the three after it are type, source, super options.
    let sep = fields
        .iter()
        .position(|f| *f == "-")
        .ok_or("no \"-\" separator")?;
    if sep < 6 || fields.len() < sep + 3 {
        return Err(format!("too few fields in {line:?}"));
    }
    let (major, minor) = fields[2]
        .split_once(':')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .ok_or_else(|| format!("bad device number {:?}", fields[2]))?;
    let number = |s: &str| s.parse::<u32>().map_err(|_| format!("bad mount id {s:?}"));
    Ok(MountEntry {
        mount_id: number(fields[0])?,
        parent_id: number(fields[1])?,
        major,
        minor,
        fs_root: unescape_path(fields[3]),
        mount_point: unescape_path(fields[4]),
        options: fields[5].to_string(),
        fs_type: fields[sep + 1].to_string(),
        source: unescape(fields[sep + 2]),
        super_options: fields.get(sep + 3).copied().unwrap_or("").to_string(),
    })
}

/// The kernel writes space, tab, newline and backslash in paths as octal escapes ("\040").
pub fn unescape_bytes(field: &str) -> Vec<u8> {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let value = digits
                    .iter()
                    .fold(0u16, |acc, d| acc * 8 + u16::from(d - b'0'));
                if let Ok(byte) = u8::try_from(value) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

pub fn unescape_path(field: &str) -> PathBuf {
    PathBuf::from(OsString::from_vec(unescape_bytes(field)))
}

/// [`unescape_bytes`] as text, with bytes that are not UTF-8 replaced.
pub fn unescape(field: &str) -> String {
    String::from_utf8_lossy(&unescape_bytes(field)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
23 22 0:5 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
40 22 7:1 / /mnt/my\\040disk rw,relatime - xfs /dev/loop0p1 rw,attr2,inode64
41 22 7:2 /@home /home rw master:3 - btrfs /dev/loop0p2 rw,subvol=/@home
";

    #[test]
    fn parses_fields_and_optional_tags() {
        let m = parse(SAMPLE).unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!((m[0].major, m[0].minor), (254, 0));
        assert_eq!(m[0].mount_point, PathBuf::from("/"));
        assert_eq!(m[0].fs_type, "ext4");
        assert_eq!(m[0].source, "/dev/vda");
        assert_eq!(m[0].super_options, "rw,discard");
        assert_eq!(m[1].fs_type, "proc");
        assert_eq!(m[3].fs_root, PathBuf::from("/@home"));
        assert_eq!(m[3].parent_id, 22);
    }

    #[test]
    fn unescapes_octal() {
        let m = parse(SAMPLE).unwrap();
        assert_eq!(m[2].mount_point, PathBuf::from("/mnt/my disk"));
        assert_eq!(unescape_bytes("a\\011b\\134c"), b"a\tb\\c");
        assert_eq!(unescape_bytes("trail\\04"), b"trail\\04");
        assert_eq!(unescape_bytes("\\777"), b"\\777");
    }

    #[test]
    fn rejects_malformed_lines_with_their_number() {
        let err = parse("22 1 254:0 / / rw - ext4 /dev/vda rw\nnonsense\n").unwrap_err();
        assert_eq!(err.line, 2);
        let err = parse("22 1 x:y / / rw - ext4 /dev/vda rw").unwrap_err();
        assert!(err.message.contains("device number"), "{err}");
    }
}
