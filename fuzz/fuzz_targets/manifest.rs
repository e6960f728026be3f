//! A volume's manifest (`/rescue/manifest.json`) and the rescue system's tools list on any
//! bytes: parsed or refused, never a panic; what parses writes back as the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rescue_core::media::{Manifest, ToolsInfo};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = serde_json::from_slice::<Manifest>(data) {
        let _ = (m.volumes_known(), m.is_last_volume());
        let _ = Manifest::volume_label(&m.backup_id, m.volume);
        let again: Manifest =
            serde_json::from_str(&serde_json::to_string(&m).expect("a manifest serializes"))
                .expect("a manifest written reads back");
        assert_eq!(again, m);
    }
    if let Ok(t) = serde_json::from_slice::<ToolsInfo>(data) {
        let _ = t.has("mkfs.ext4");
    }
});
