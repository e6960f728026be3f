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
