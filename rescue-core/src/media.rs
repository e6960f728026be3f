//! What rescue media carry besides the mountlist: the manifest on every volume, and the
//! record of which restore tools the rescue system holds.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The manifest format version.
pub const MANIFEST_VERSION: u32 = 1;

/// Where files live on a volume.
pub const MANIFEST_PATH: &str = "/rescue/manifest.json";
pub const MOUNTLIST_PATH: &str = "/rescue/mountlist.json";
/// Where the initramfs keeps its own copies.
pub const INITRAMFS_MOUNTLIST: &str = "/etc/rescue/mountlist.json";
pub const INITRAMFS_TOOLS: &str = "/etc/rescue/tools.json";

/// Volume labels start with this, then the backup id: "RESCUE_1A2B3C4D".
pub const LABEL_PREFIX: &str = "RESCUE_";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub version: u32,
    /// Identifies one run of mkrescue; every volume of it carries the same id.
    pub backup_id: String,
    /// The ISO volume id: LABEL_PREFIX + backup_id.
    pub label: String,
    /// This volume's number, from 1.
    pub volume: u32,
    pub volumes: u32,
    /// Seconds since the epoch.
    pub created: u64,
    pub tool_version: String,
    pub hostname: String,
    pub kernel_release: String,
}

impl Manifest {
    pub fn label_for(backup_id: &str) -> String {
        format!("{LABEL_PREFIX}{backup_id}")
    }
}

/// Restore tools present in the rescue system (name -> path) and those the host lacked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ToolsInfo {
    #[serde(default)]
    pub available: BTreeMap<String, String>,
    #[serde(default)]
    pub missing: Vec<String>,
}

impl ToolsInfo {
    pub fn has(&self, name: &str) -> bool {
        self.available.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_and_rejects_unknown_fields() {
        let m = Manifest {
            version: MANIFEST_VERSION,
            backup_id: "1A2B3C4D".into(),
            label: Manifest::label_for("1A2B3C4D"),
            volume: 1,
            volumes: 1,
            created: 1,
            tool_version: "0.1.0".into(),
            hostname: "h".into(),
            kernel_release: "6.1".into(),
        };
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Manifest>(&text).unwrap(), m);
        assert_eq!(m.label, "RESCUE_1A2B3C4D");
        let bad = text.replace("\"volume\":1", "\"volume\":1,\"x\":0");
        assert!(serde_json::from_str::<Manifest>(&bad).is_err());
    }

    #[test]
    fn tools_info_answers_what_is_there() {
        let mut t = ToolsInfo::default();
        t.available
            .insert("mkfs.ext4".into(), "/usr/sbin/mkfs.ext4".into());
        assert!(t.has("mkfs.ext4"));
        assert!(!t.has("mkfs.btrfs"));
    }
}
