//! What several restore-tui test files share.

use host_tests::run;
use std::fs;
use std::path::Path;

/// `mkrescue create` of the system at `root` into `out`, a directory per volume, spread
/// over two volumes with sets on each (`-s 48m,64m --set-size 1m`); then volume 2 is moved
/// into `away` (made here). Returns the backup's id.
pub fn two_volume_backup(root: &Path, out: &Path, away: &Path) -> String {
    let made = run(
        qemu_tests::mkrescue_create(&host_tests::mkrescue_bin(), root, out)
            .args(["--json", "--output-format", "dir"])
            .args(["-s", "48m,64m", "--set-size", "1m"]),
    );
    let summary: serde_json::Value = serde_json::from_str(&made).unwrap();
    let volumes = summary["volumes"].as_array().unwrap();
    assert_eq!(volumes.len(), 2, "{summary:#}");
    for v in volumes {
        assert!(
            !v["sets"].as_array().unwrap().is_empty(),
            "sets on both volumes: {summary:#}"
        );
    }
    fs::create_dir(away).unwrap();
    fs::rename(out.join("rescue-2"), away.join("rescue-2")).unwrap();
    // Volume 1's label: RESCUE_<id>_1.
    let label = summary["label"].as_str().unwrap();
    label["RESCUE_".len()..label.rfind('_').unwrap()].to_string()
}
