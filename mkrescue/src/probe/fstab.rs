//! Parsing /etc/fstab (see fstab(5)) and classifying how each line names its device.

use rescue_core::mountinfo::unescape;
use rescue_core::mountlist::FstabSpecKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FstabLine {
    /// 1-based line number, for messages.
    pub line: usize,
    pub spec: String,
    pub mount_point: String,
    pub fs_type: String,
    pub options: String,
    pub dump: u32,
    pub pass: u32,
}

/// What an fstab spec points at, decoded from its form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecTarget {
    Uuid(String),
    Label(String),
    PartUuid(String),
    PartLabel(String),
    /// A path under /dev (including /dev/mapper/...).
    Device(String),
    /// Not a local block device: proc, tmpfs, a network share, a swap file, ...
    Other,
}

impl SpecTarget {
    pub fn kind(&self) -> Option<FstabSpecKind> {
        Some(match self {
            SpecTarget::Uuid(_) => FstabSpecKind::Uuid,
            SpecTarget::Label(_) => FstabSpecKind::Label,
            SpecTarget::PartUuid(_) => FstabSpecKind::Partuuid,
            SpecTarget::PartLabel(_) => FstabSpecKind::Partlabel,
            SpecTarget::Device(_) => FstabSpecKind::Device,
            SpecTarget::Other => return None,
        })
    }
}

/// Parses fstab text; malformed lines come back as messages, so one typo does not hide the rest.
pub fn parse(text: &str) -> (Vec<FstabLine>, Vec<String>) {
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let content = raw.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = content.split_whitespace().collect();
        if fields.len() < 3 {
            problems.push(format!(
                "fstab line {}: expected at least 3 fields, found {}: {content:?}",
                i + 1,
                fields.len()
            ));
            continue;
        }
        let number = |idx: usize| fields.get(idx).and_then(|f| f.parse().ok()).unwrap_or(0);
        lines.push(FstabLine {
            line: i + 1,
            spec: unescape(fields[0]),
            mount_point: unescape(fields[1]),
            fs_type: fields[2].to_string(),
            options: fields.get(3).unwrap_or(&"defaults").to_string(),
            dump: number(4),
            pass: number(5),
        });
    }
    (lines, problems)
}

pub fn classify(spec: &str) -> SpecTarget {
    let tagged = |prefix: &str| {
        spec.strip_prefix(prefix)
            .map(|v| v.trim_matches('"').to_string())
    };
    if let Some(v) = tagged("UUID=") {
        return SpecTarget::Uuid(v);
    }
    if let Some(v) = tagged("LABEL=") {
        return SpecTarget::Label(v);
    }
    if let Some(v) = tagged("PARTUUID=") {
        return SpecTarget::PartUuid(v);
    }
    if let Some(v) = tagged("PARTLABEL=") {
        return SpecTarget::PartLabel(v);
    }
    let by = |dir: &str| spec.strip_prefix(dir).map(udev_unescape);
    if let Some(v) = by("/dev/disk/by-uuid/") {
        return SpecTarget::Uuid(v);
    }
    if let Some(v) = by("/dev/disk/by-label/") {
        return SpecTarget::Label(v);
    }
    if let Some(v) = by("/dev/disk/by-partuuid/") {
        return SpecTarget::PartUuid(v);
    }
    if let Some(v) = by("/dev/disk/by-partlabel/") {
        return SpecTarget::PartLabel(v);
    }
    if spec.starts_with("/dev/") {
        return SpecTarget::Device(spec.to_string());
    }
    SpecTarget::Other
}

/// udev writes unsafe characters in /dev/disk/by-* names as "\xNN".
fn udev_unescape(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'x') {
            if let Some(v) = bytes
                .get(i + 2..i + 4)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Filesystem types that hold no files of their own or live elsewhere: no backup, no warning.
pub fn is_virtual_or_network(fs_type: &str) -> bool {
    matches!(
        fs_type,
        "proc"
            | "sysfs"
            | "tmpfs"
            | "devtmpfs"
            | "devpts"
            | "cgroup"
            | "cgroup2"
            | "securityfs"
            | "debugfs"
            | "tracefs"
            | "pstore"
            | "efivarfs"
            | "bpf"
            | "mqueue"
            | "hugetlbfs"
            | "configfs"
            | "fusectl"
            | "binfmt_misc"
            | "autofs"
            | "ramfs"
            | "nfs"
            | "nfs4"
            | "cifs"
            | "smb3"
            | "smbfs"
            | "sshfs"
            | "fuse.sshfs"
            | "glusterfs"
            | "ceph"
            | "9p"
            | "virtiofs"
            | "overlay"
            | "none"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
# /etc/fstab: static file system information.
UUID=0a1b2c3d-0000-4000-8000-000000000001 /               ext4    errors=remount-ro 0       1
LABEL=home      /home   ext4    defaults,noatime        0       2
PARTUUID=9e8f7a6b-01  /boot/efi vfat umask=0077 0 1
/dev/sdb1 /srv\\040data xfs defaults
/dev/disk/by-label/my\\x20swap none swap sw 0 0
proc /proc proc defaults 0 0
server:/export /mnt/nfs nfs rw 0 0
broken-line
";

    #[test]
    fn parses_fields_with_defaults_and_escapes() {
        let (lines, problems) = parse(SAMPLE);
        assert_eq!(lines.len(), 7);
        assert_eq!(lines[0].mount_point, "/");
        assert_eq!(lines[0].pass, 1);
        assert_eq!(lines[1].options, "defaults,noatime");
        assert_eq!(lines[3].mount_point, "/srv data");
        assert_eq!(lines[3].dump, 0);
        assert_eq!(lines[3].line, 5);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("line 9"), "{problems:?}");
    }

    #[test]
    fn classifies_every_spec_form() {
        let (lines, _) = parse(SAMPLE);
        let targets: Vec<SpecTarget> = lines.iter().map(|l| classify(&l.spec)).collect();
        assert_eq!(
            targets,
            vec![
                SpecTarget::Uuid("0a1b2c3d-0000-4000-8000-000000000001".into()),
                SpecTarget::Label("home".into()),
                SpecTarget::PartUuid("9e8f7a6b-01".into()),
                SpecTarget::Device("/dev/sdb1".into()),
                SpecTarget::Label("my swap".into()),
                SpecTarget::Other,
                SpecTarget::Other,
            ]
        );
        assert_eq!(
            classify("LABEL=\"quoted\""),
            SpecTarget::Label("quoted".into())
        );
    }

    #[test]
    fn knows_virtual_filesystems() {
        assert!(is_virtual_or_network("tmpfs"));
        assert!(is_virtual_or_network("nfs4"));
        assert!(!is_virtual_or_network("ext4"));
    }
}
