//! Reading and writing the mountlist as versioned JSON.

use super::model::{Mountlist, MOUNTLIST_VERSION};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read mountlist {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("mountlist is not valid JSON at line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("mountlist has no \"version\" field: it is not a mountlist written by mkrescue")]
    NoVersion,
    #[error(
        "mountlist version {found} is not supported: this build reads version {supported}; \
         use the mkrescue/restore-tui release that wrote it"
    )]
    UnknownVersion { found: u64, supported: u32 },
    #[error("mountlist field {field} at line {line}, column {column}: {message}")]
    Field {
        field: String,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Parses a mountlist, checking the version before the structure so an old or new file
/// gets a message about its version rather than about some field.
pub fn from_json(text: &str) -> Result<Mountlist, LoadError> {
    #[derive(Deserialize)]
    struct VersionOnly {
        version: Option<serde_json::Value>,
    }
    let probe: VersionOnly = serde_json::from_str(text).map_err(|e| LoadError::Syntax {
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    let found = probe.version.ok_or(LoadError::NoVersion)?;
    match found.as_u64() {
        Some(v) if v == u64::from(MOUNTLIST_VERSION) => {}
        Some(v) => {
            return Err(LoadError::UnknownVersion {
                found: v,
                supported: MOUNTLIST_VERSION,
            })
        }
        None => return Err(LoadError::NoVersion),
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        LoadError::Field {
            field,
            line: inner.line(),
            column: inner.column(),
            message: strip_position(&inner.to_string()),
        }
    })
}

pub fn read_file(path: &Path) -> Result<Mountlist, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    from_json(&text)
}

pub fn to_json(mountlist: &Mountlist) -> String {
    let mut text =
        serde_json::to_string_pretty(mountlist).expect("a mountlist always serializes to JSON");
    text.push('\n');
    text
}

/// serde_json appends " at line L column C"; the error variants carry those apart.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mountlist::resize::fixtures;
    use crate::mountlist::{FsType, FstabRef, FstabSpecKind, Unsupported, UnsupportedKind};

    fn rich() -> Mountlist {
        let mut ml = fixtures::gpt_mountlist();
        let mbr = fixtures::msdos_mountlist();
        ml.disks.extend(mbr.disks);
        ml.disks.push(fixtures::whole_disk("/dev/vdc"));
        let fs = ml.disks[0].partitions[1].filesystem.as_mut().unwrap();
        fs.fstab = Some(FstabRef {
            spec: "LABEL=root".into(),
            kind: FstabSpecKind::Label,
            mount_point: "/".into(),
            fs_type: "ext4".into(),
            options: "errors=remount-ro".into(),
            dump: 0,
            pass: 1,
        });
        fs.params.features = vec!["has_journal".into(), "FEATURE_I31".into()];
        fs.swap_active = true;
        ml.disks[0].partitions[2]
            .filesystem
            .as_mut()
            .unwrap()
            .fs_type = FsType::Other("zfs_member".into());
        ml.unsupported.push(Unsupported {
            device: "/dev/sdz1".into(),
            kind: UnsupportedKind::LvmPhysicalVolume,
            detail: "PV x".into(),
            mount_point: None,
        });
        ml.warnings.push("a warning".into());
        ml
    }

    #[test]
    fn json_round_trips_every_field() {
        let ml = rich();
        let text = to_json(&ml);
        assert_eq!(from_json(&text).unwrap(), ml);
        // Stable: writing what was read gives the same text.
        assert_eq!(to_json(&from_json(&text).unwrap()), text);
        assert!(
            text.contains("\"type_id\": \"0x83\""),
            "MBR ids are written in hex"
        );
        assert!(text.contains("\"type\": \"zfs_member\""));
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let err = from_json("{\n  \"version\": 1,\n  \"disks\": [,]\n}").unwrap_err();
        let LoadError::Syntax { line, column, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!((*line, *column), (3, 13));
        assert!(err.to_string().contains("line 3, column 13"), "{err}");
    }

    #[test]
    fn version_is_checked_before_the_structure() {
        let err = from_json("{\"version\": 7, \"disks\": \"not a list\"}").unwrap_err();
        assert!(
            matches!(err, LoadError::UnknownVersion { found: 7, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("version 7"));
        let err = from_json("{\"disks\": []}").unwrap_err();
        assert!(matches!(err, LoadError::NoVersion), "{err}");
        let err = from_json("{\"version\": \"1\"}").unwrap_err();
        assert!(matches!(err, LoadError::NoVersion), "{err}");
    }

    #[test]
    fn field_errors_name_the_field_and_place() {
        let mut text = to_json(&fixtures::gpt_mountlist());
        text = text.replacen("\"start\": 2048", "\"start\": -1", 1);
        let err = from_json(&text).unwrap_err();
        let LoadError::Field { field, line, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(field, "disks[0].partitions[0].start");
        assert!(*line > 1);
        let err = from_json(&to_json(&fixtures::gpt_mountlist()).replacen(
            "\"version\": 1,",
            "\"version\": 1, \"extra\": true,",
            1,
        ))
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `extra`"), "{err}");
    }

    #[test]
    fn a_missing_file_names_the_path() {
        let err = read_file(Path::new("/nonexistent/ml.json")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ml.json"));
    }
}
