//! Rewriting /etc/fstab of the restored system where a device's name changed.
//!
//! The filesystems are made again with their UUIDs and labels, and the GPT entries with
//! their GUIDs, so `UUID=`, `LABEL=` and `PARTUUID=` lines stay true. What changes is a
//! device path when a disk is restored onto another (`/dev/sda2` -> `/dev/vdb2`), and a
//! reference the user changed in the mountlist (a new label, a filesystem made anew
//! without its UUID). [`changes`] finds them from the mountlist before and after; [`rewrite`]
//! applies them to the text, touching only the first field of matching lines.

use rescue_core::mountlist::{FstabSpecKind, Mountlist, PartitionTable};

/// One first-field replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FstabChange {
    pub old: String,
    pub new: String,
    /// The captured fstab has a line with `old` (else the change is there in case a line
    /// names the device without the capture having tied it to a filesystem).
    pub referenced: bool,
}

impl std::fmt::Display for FstabChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} -> {}", self.old, self.new)
    }
}

/// The replacements that make fstab lines written for `original` name the devices of
/// `layout` (the same disks, mapped and fitted: disk and partition order unchanged).
/// `partuuids` gives each partition's GUID as it will be written (for `PARTUUID=` lines).
pub fn changes(
    original: &Mountlist,
    layout: &Mountlist,
    partuuid: &dyn Fn(&str) -> Option<String>,
) -> Vec<FstabChange> {
    let mut out: Vec<FstabChange> = Vec::new();
    let mut push = |old: &str, new: String, referenced: bool| {
        if old != new && !out.iter().any(|c| c.old == old) {
            out.push(FstabChange {
                old: old.to_string(),
                new,
                referenced,
            });
        }
    };
    for (before, after) in original.disks.iter().zip(&layout.disks) {
        // References the fstab makes to each filesystem, as captured.
        let pairs = before
            .filesystem
            .iter()
            .map(|f| {
                (
                    before.path.as_str(),
                    after.path.as_str(),
                    f,
                    after.filesystem.as_ref(),
                )
            })
            .chain(
                before
                    .partitions
                    .iter()
                    .zip(&after.partitions)
                    .filter_map(|(pb, pa)| {
                        pb.filesystem.as_ref().map(|f| {
                            (
                                pb.path.as_str(),
                                pa.path.as_str(),
                                f,
                                pa.filesystem.as_ref(),
                            )
                        })
                    }),
            );
        for (old_dev, new_dev, fs_before, fs_after) in pairs {
            let (Some(r), Some(fs)) = (&fs_before.fstab, fs_after) else {
                continue;
            };
            let new = match r.kind {
                FstabSpecKind::Uuid => match &fs.uuid {
                    Some(u) if !r.spec.eq_ignore_ascii_case(&format!("UUID={u}")) => {
                        format!("UUID={u}")
                    }
                    Some(_) => continue,
                    None => new_dev.to_string(),
                },
                FstabSpecKind::Label => match &fs.label {
                    Some(l) => format!("LABEL={l}"),
                    None => fs
                        .uuid
                        .as_ref()
                        .map(|u| format!("UUID={u}"))
                        .unwrap_or_else(|| new_dev.to_string()),
                },
                FstabSpecKind::Partuuid => match partuuid(new_dev) {
                    Some(p) if !r.spec.eq_ignore_ascii_case(&format!("PARTUUID={p}")) => {
                        format!("PARTUUID={p}")
                    }
                    _ => continue,
                },
                FstabSpecKind::Partlabel => continue,
                FstabSpecKind::Device if r.spec == old_dev => new_dev.to_string(),
                FstabSpecKind::Device => continue,
            };
            push(&r.spec, new, true);
        }
        // Device paths of every partition, also those the capture did not tie to a line.
        if before.path != after.path {
            push(&before.path, after.path.clone(), false);
            for (pb, pa) in before.partitions.iter().zip(&after.partitions) {
                push(&pb.path, pa.path.clone(), false);
            }
        }
    }
    out
}

/// The PARTUUID a partition of `layout` gets: its GPT GUID, or `SIGNATURE-NN` on MBR.
pub fn partuuid_in(layout: &Mountlist, device: &str) -> Option<String> {
    for d in &layout.disks {
        for p in &d.partitions {
            if p.path != device {
                continue;
            }
            return match (&d.table, &p.gpt) {
                (PartitionTable::Gpt { .. }, Some(g)) if !g.unique_guid.is_empty() => {
                    Some(g.unique_guid.clone())
                }
                (PartitionTable::Msdos { signature }, _) => Some(format!(
                    "{}-{:02x}",
                    signature.trim_start_matches("0x"),
                    p.number
                )),
                _ => None,
            };
        }
    }
    None
}

/// `text` with the first field of each line that equals a change's `old` replaced (all
/// changes at once, so two disks may swap names); and what was changed, one line each.
pub fn rewrite(text: &str, changes: &[FstabChange]) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len());
    let mut done = Vec::new();
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        let first = body.split_whitespace().next().unwrap_or("");
        let change = (!first.starts_with('#'))
            .then(|| changes.iter().find(|c| c.old == first))
            .flatten();
        match change {
            Some(c) => {
                out.push_str(indent);
                out.push_str(&c.new);
                out.push_str(&body[first.len()..]);
                let mount_point = body.split_whitespace().nth(1).unwrap_or("?");
                done.push(format!("line {}: {} ({mount_point})", n + 1, c));
            }
            None => out.push_str(line),
        }
    }
    (out, done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(old: &str, new: &str) -> FstabChange {
        FstabChange {
            old: old.into(),
            new: new.into(),
            referenced: true,
        }
    }

    #[test]
    fn rewrites_first_fields_only_and_keeps_the_rest() {
        let text = "# /dev/sda1 was the root\n\
                    UUID=abc / ext4 defaults 0 1\n\
                    /dev/sda2\tnone\tswap\tsw\t0 0\n\
                    \t/dev/sdb1   /srv  xfs  defaults 0 0\n\
                    /dev/sda10 /x ext4 defaults 0 0\n\
                    /dev/sdb1";
        let (new, done) = rewrite(
            text,
            &[
                ch("/dev/sda2", "/dev/sdb2"),
                ch("/dev/sdb1", "/dev/sda1"),
                ch("/dev/sda1", "/dev/sdb1"),
            ],
        );
        assert_eq!(
            new,
            "# /dev/sda1 was the root\n\
             UUID=abc / ext4 defaults 0 1\n\
             /dev/sdb2\tnone\tswap\tsw\t0 0\n\
             \t/dev/sda1   /srv  xfs  defaults 0 0\n\
             /dev/sda10 /x ext4 defaults 0 0\n\
             /dev/sda1"
        );
        assert_eq!(
            done,
            [
                "line 3: /dev/sda2 -> /dev/sdb2 (none)",
                "line 4: /dev/sdb1 -> /dev/sda1 (/srv)",
                "line 6: /dev/sdb1 -> /dev/sda1 (?)"
            ]
        );
    }
}
