//! The commands that make a filesystem again with its original UUID, label and creation
//! parameters, and the labelling commands Mondo runs after them.

use rescue_core::mountlist::{Filesystem, FsType};
use rescue_core::runner::Cmd;

/// `mkfs.*` (or mkswap) for `fs` on `device`; None for a type the restore cannot make.
///
/// - ext2/3/4: `mkfs.ext4 -F -U UUID -L LABEL -b BLOCK -I INODE -O none,FEATURES DEV`
///   (`none,` first: exactly the captured features, not today's defaults plus them)
/// - xfs: `mkfs.xfs -f -m uuid=UUID,crc=1,... -L LABEL -b size=B -s size=S -i size=I DEV`
/// - vfat: `mkfs.vfat -i SERIAL -n LABEL -F BITS -S SECTOR -s CLUSTER DEV`
/// - swap: `mkswap -U UUID -L LABEL DEV`
/// - btrfs: `mkfs.btrfs -f -U UUID -L LABEL -n NODE -s SECTOR DEV`
pub fn mkfs(fs: &Filesystem, device: &str) -> Option<Cmd> {
    let program = fs.fs_type.mkfs_program()?;
    let p = &fs.params;
    let mut cmd = Cmd::new(program);
    match &fs.fs_type {
        t if t.is_ext() => {
            cmd = cmd.arg("-F");
            if let Some(uuid) = &fs.uuid {
                cmd = cmd.args(["-U", uuid]);
            }
            if let Some(label) = &fs.label {
                cmd = cmd.args(["-L", label]);
            }
            if let Some(b) = p.block_size {
                cmd = cmd.args(["-b".to_string(), b.to_string()]);
            }
            if let Some(i) = p.inode_size {
                cmd = cmd.args(["-I".to_string(), i.to_string()]);
            }
            if !p.features.is_empty() {
                cmd = cmd.args(["-O".to_string(), format!("none,{}", p.features.join(","))]);
            }
        }
        FsType::Xfs => {
            cmd = cmd.arg("-f");
            let mut meta = Vec::new();
            if let Some(uuid) = &fs.uuid {
                meta.push(format!("uuid={uuid}"));
            }
            let has = |f: &str| p.features.iter().any(|x| x == f);
            if !p.features.is_empty() {
                if has("crc") {
                    meta.push("crc=1".into());
                    for f in ["finobt", "rmapbt", "reflink", "bigtime", "inobtcount"] {
                        if has(f) {
                            meta.push(format!("{f}=1"));
                        }
                    }
                } else {
                    meta.push("crc=0".into());
                }
            }
            if !meta.is_empty() {
                cmd = cmd.args(["-m".to_string(), meta.join(",")]);
            }
            if let Some(label) = &fs.label {
                cmd = cmd.args(["-L", label]);
            }
            if let Some(b) = p.block_size {
                cmd = cmd.args(["-b".to_string(), format!("size={b}")]);
            }
            if let Some(s) = p.sector_size {
                cmd = cmd.args(["-s".to_string(), format!("size={s}")]);
            }
            if let Some(i) = p.inode_size {
                let mut inode = format!("size={i}");
                if has("sparse") {
                    inode.push_str(",sparse=1");
                }
                cmd = cmd.args(["-i".to_string(), inode]);
            }
            if has("ftype") && !has("crc") {
                cmd = cmd.args(["-n", "ftype=1"]);
            }
        }
        FsType::Vfat => {
            if let Some(serial) = &fs.uuid {
                cmd = cmd.args(["-i".to_string(), serial.replace('-', "")]);
            }
            if let Some(label) = &fs.label {
                cmd = cmd.args(["-n", label]);
            }
            if let Some(bits) = p.fat_bits {
                cmd = cmd.args(["-F".to_string(), bits.to_string()]);
            }
            if let Some(s) = p.sector_size {
                cmd = cmd.args(["-S".to_string(), s.to_string()]);
            }
            // A cluster size suits the size it was chosen for: only when that is kept
            // (a resize clears size_bytes) is it given again.
            if let (Some(c), Some(s), Some(_)) = (p.cluster_size, p.sector_size, fs.size_bytes) {
                if s > 0 && c % s == 0 {
                    cmd = cmd.args(["-s".to_string(), (c / s).to_string()]);
                }
            }
        }
        FsType::Swap => {
            if let Some(uuid) = &fs.uuid {
                cmd = cmd.args(["-U", uuid]);
            }
            if let Some(label) = &fs.label {
                cmd = cmd.args(["-L", label]);
            }
        }
        FsType::Btrfs => {
            cmd = cmd.arg("-f");
            if let Some(uuid) = &fs.uuid {
                cmd = cmd.args(["-U", uuid]);
            }
            if let Some(label) = &fs.label {
                cmd = cmd.args(["-L", label]);
            }
            if let Some(n) = p.node_size {
                cmd = cmd.args(["-n".to_string(), n.to_string()]);
            }
            if let Some(s) = p.sector_size {
                cmd = cmd.args(["-s".to_string(), s.to_string()]);
            }
        }
        _ => {}
    }
    Some(cmd.arg(device).describe(describe_mkfs(fs, device)))
}

/// "make an ext4 filesystem on /dev/vdb2 labelled root with UUID ... (block size 4096,
/// inode size 256)"
pub fn describe_mkfs(fs: &Filesystem, device: &str) -> String {
    let mut s = match fs.fs_type {
        FsType::Swap => format!("make swap space on {device}"),
        _ => format!(
            "make {} {} filesystem on {device}",
            article(fs.fs_type.as_str()),
            fs.fs_type
        ),
    };
    if let Some(label) = &fs.label {
        s.push_str(&format!(" labelled {label}"));
    }
    if let Some(uuid) = &fs.uuid {
        let what = if fs.fs_type == FsType::Vfat {
            "serial"
        } else {
            "UUID"
        };
        s.push_str(&format!(" with {what} {uuid}"));
    }
    let p = &fs.params;
    let mut details = Vec::new();
    if let Some(bits) = p.fat_bits {
        details.push(format!("FAT{bits}"));
    }
    if let Some(b) = p.block_size.filter(|_| fs.fs_type != FsType::Swap) {
        details.push(format!("block size {b}"));
    }
    if let Some(i) = p.inode_size {
        details.push(format!("inode size {i}"));
    }
    if let Some(n) = p.node_size {
        details.push(format!("node size {n}"));
    }
    if !details.is_empty() {
        s.push_str(&format!(" ({})", details.join(", ")));
    }
    s
}

fn article(word: &str) -> &'static str {
    match word.chars().next() {
        // "an ext4", "an xfs" (said "ex-"), "a vfat", "a btrfs"
        Some('a' | 'e' | 'i' | 'o' | 'u' | 'x') => "an",
        _ => "a",
    }
}

/// The labelling command Mondo runs after mkfs, when the filesystem has a label:
/// `e2label DEV LABEL`, `xfs_admin -L LABEL DEV`, `fatlabel DEV LABEL`,
/// `swaplabel -L LABEL DEV`, `btrfs filesystem label DEV LABEL`.
pub fn label(fs: &Filesystem, device: &str) -> Option<Cmd> {
    let label = fs.label.as_deref()?;
    let cmd = match &fs.fs_type {
        t if t.is_ext() => Cmd::new("e2label").args([device, label]),
        FsType::Xfs => Cmd::new("xfs_admin").args(["-L", label, device]),
        FsType::Vfat => Cmd::new("fatlabel").args([device, label]),
        FsType::Swap => Cmd::new("swaplabel").args(["-L", label, device]),
        FsType::Btrfs => Cmd::new("btrfs").args(["filesystem", "label", device, label]),
        _ => return None,
    };
    let how = format!(
        "label {device} {label} with {} (as Mondo does)",
        cmd.program
    );
    Some(cmd.describe(how))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rescue_core::mountlist::FsParams;

    fn fs(t: FsType, uuid: &str, label: Option<&str>, params: FsParams) -> Filesystem {
        let mut f = Filesystem::new(t);
        f.uuid = Some(uuid.into());
        f.label = label.map(str::to_string);
        f.params = params;
        f.size_bytes = Some(1 << 30);
        f
    }

    #[test]
    fn ext4_keeps_uuid_label_sizes_and_exactly_its_features() {
        let f = fs(
            FsType::Ext4,
            "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6",
            Some("root"),
            FsParams {
                block_size: Some(4096),
                inode_size: Some(256),
                features: vec!["has_journal".into(), "extent".into()],
                ..FsParams::default()
            },
        );
        let cmd = mkfs(&f, "/dev/vdb2").unwrap();
        assert_eq!(
            cmd.to_string(),
            "mkfs.ext4 -F -U 0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6 -L root -b 4096 -I 256 \
             -O none,has_journal,extent /dev/vdb2"
        );
        assert_eq!(
            cmd.description,
            "make an ext4 filesystem on /dev/vdb2 labelled root with UUID \
             0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6 (block size 4096, inode size 256)"
        );
        assert_eq!(
            label(&f, "/dev/vdb2").unwrap().to_string(),
            "e2label /dev/vdb2 root"
        );
    }

    #[test]
    fn xfs_vfat_swap_and_btrfs() {
        let xfs = fs(
            FsType::Xfs,
            "11111111-2222-4333-8444-555555555555",
            Some("data"),
            FsParams {
                block_size: Some(4096),
                sector_size: Some(512),
                inode_size: Some(512),
                features: vec![
                    "crc".into(),
                    "finobt".into(),
                    "sparse".into(),
                    "reflink".into(),
                ],
                ..FsParams::default()
            },
        );
        assert_eq!(
            mkfs(&xfs, "/dev/sdb1").unwrap().to_string(),
            "mkfs.xfs -f -m uuid=11111111-2222-4333-8444-555555555555,crc=1,finobt=1,reflink=1 \
             -L data -b size=4096 -s size=512 -i size=512,sparse=1 /dev/sdb1"
        );
        assert_eq!(
            label(&xfs, "/dev/sdb1").unwrap().to_string(),
            "xfs_admin -L data /dev/sdb1"
        );
        let vfat = fs(
            FsType::Vfat,
            "1A2B-3C4D",
            Some("ESP"),
            FsParams {
                sector_size: Some(512),
                fat_bits: Some(32),
                cluster_size: Some(4096),
                ..FsParams::default()
            },
        );
        let cmd = mkfs(&vfat, "/dev/vdb1").unwrap();
        assert_eq!(
            cmd.to_string(),
            "mkfs.vfat -i 1A2B3C4D -n ESP -F 32 -S 512 -s 8 /dev/vdb1"
        );
        assert_eq!(
            cmd.description,
            "make a vfat filesystem on /dev/vdb1 labelled ESP with serial 1A2B-3C4D (FAT32)"
        );
        let mut resized = vfat.clone();
        resized.size_bytes = None;
        assert!(!mkfs(&resized, "/dev/vdb1")
            .unwrap()
            .to_string()
            .contains(" -s "));
        assert_eq!(
            label(&vfat, "/dev/vdb1").unwrap().to_string(),
            "fatlabel /dev/vdb1 ESP"
        );
        let swap = fs(
            FsType::Swap,
            "aaaa0000-0000-4000-8000-000000000001",
            Some("sw"),
            FsParams::default(),
        );
        assert_eq!(
            mkfs(&swap, "/dev/vdb4").unwrap().to_string(),
            "mkswap -U aaaa0000-0000-4000-8000-000000000001 -L sw /dev/vdb4"
        );
        assert_eq!(
            label(&swap, "/dev/vdb4").unwrap().to_string(),
            "swaplabel -L sw /dev/vdb4"
        );
        let btrfs = fs(
            FsType::Btrfs,
            "bbbb0000-0000-4000-8000-000000000002",
            None,
            FsParams {
                node_size: Some(16384),
                sector_size: Some(4096),
                ..FsParams::default()
            },
        );
        assert_eq!(
            mkfs(&btrfs, "/dev/vdc").unwrap().to_string(),
            "mkfs.btrfs -f -U bbbb0000-0000-4000-8000-000000000002 -n 16384 -s 4096 /dev/vdc"
        );
        assert!(label(&btrfs, "/dev/vdc").is_none(), "no label asked for");
        assert!(mkfs(&Filesystem::new(FsType::Other("zfs".into())), "/dev/x").is_none());
    }
}
