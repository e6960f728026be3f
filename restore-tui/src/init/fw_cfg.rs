//! Options from the host through QEMU's fw_cfg: `mkrescue rehearse` boots the media with
//! `-fw_cfg name=opt/mkrescue/cmdline,string=...` instead of editing their boot menu. Only
//! QEMU has fw_cfg, so real hardware can never be told to nuke this way. The qemu_fw_cfg
//! module shows the item as a file.

use std::io;
use std::path::Path;

/// Where the qemu_fw_cfg module shows the item, under the root.
pub const CMDLINE_ITEM: &str = "/sys/firmware/qemu_fw_cfg/by_name/opt/mkrescue/cmdline/raw";

/// The largest item read: a command line, not a file to load.
const MAX_BYTES: u64 = 64 << 10;

/// The item's text, or `None` when there is no such item (not under QEMU, no module, or
/// not a rehearsal).
pub fn read(path: &Path) -> io::Result<Option<String>> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    file.take(MAX_BYTES).read_to_end(&mut bytes)?;
    Ok(Some(text(&bytes)))
}

/// The item's bytes as one line of parameters: NULs (a C string's end) and line ends
/// become spaces, bytes that are not UTF-8 are replaced, the ends trimmed.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| {
            if c == '\0' || c.is_whitespace() {
                ' '
            } else {
                c
            }
        })
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_item_is_one_line_of_parameters() {
        assert_eq!(
            text(b"rescue.mode=nuke\nrescue.yes\0"),
            "rescue.mode=nuke rescue.yes"
        );
        assert_eq!(text(b"  \0"), "");
        assert_eq!(text(b"rescue.label=\xff"), "rescue.label=\u{fffd}");
    }

    #[test]
    fn a_missing_item_is_none_and_a_present_one_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("raw");
        assert_eq!(read(&path).unwrap(), None);
        std::fs::write(&path, "rescue.verify\n").unwrap();
        assert_eq!(read(&path).unwrap().as_deref(), Some("rescue.verify"));
        // A directory where the file should be is an error, not "absent".
        assert!(read(dir.path()).is_err());
    }
}
