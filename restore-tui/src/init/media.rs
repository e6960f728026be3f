//! Finding the boot media by its volume label, and reading files from it.

use super::blockdevs::{self, BlockDev};
use super::modules::describe;
use rescue_core::iso9660;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The boot media, found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Kernel name of the device: `sr0`, `sdb`, `sdb1`.
    pub name: String,
    /// The whole disk it is on (itself for a whole disk).
    pub disk: String,
    /// Its volume id.
    pub label: String,
}

impl Found {
    pub fn path(&self) -> String {
        format!("/dev/{}", self.name)
    }
}

/// Where to look: the /sys/class/block and /dev directories (under the test root in
/// test mode).
#[derive(Debug, Clone)]
pub struct Places {
    pub class_block: PathBuf,
    pub dev: PathBuf,
    /// As PID 1: create a missing /dev node from /sys/class/block/NAME/dev.
    pub make_nodes: bool,
}

/// Looks at every candidate device once. Returns the media if one matches, and what was
/// seen on the others (`/dev/vda: no ISO 9660`), to explain a search that failed.
pub fn search_once(places: &Places, wanted: Option<&str>) -> (Option<Found>, Vec<String>) {
    let devs = match blockdevs::scan(&places.class_block) {
        Ok(d) => d,
        Err(e) => return (None, vec![format!("{e:#}")]),
    };
    let mut seen = Vec::new();
    for name in blockdevs::media_candidates(&devs) {
        let shown = format!("/dev/{name}");
        match probe(places, &name) {
            Ok(Some(label)) if iso9660::label_matches(&label, wanted) => {
                let disk = disk_of(&devs, &name);
                return (Some(Found { name, disk, label }), seen);
            }
            Ok(Some(label)) => seen.push(format!("{shown}: volume {label}")),
            Ok(None) => seen.push(format!("{shown}: no ISO 9660")),
            Err(e) => seen.push(format!("{shown}: {}", describe(&e))),
        }
    }
    (None, seen)
}

fn disk_of(devs: &[BlockDev], name: &str) -> String {
    devs.iter()
        .find(|d| d.name == name)
        .and_then(|d| d.parent.clone())
        .unwrap_or_else(|| name.to_string())
}

/// The volume id on /dev/NAME, if it holds ISO 9660.
fn probe(places: &Places, name: &str) -> io::Result<Option<String>> {
    let path = places.dev.join(name);
    let file = match File::open(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound && places.make_nodes => {
            make_node(places, name)?;
            File::open(&path)?
        }
        other => other?,
    };
    iso9660::read_volume_id(&file)
}

/// Creates /dev/NAME from the device number in /sys/class/block/NAME/dev, for the rare
/// device devtmpfs has not made (yet).
fn make_node(places: &Places, name: &str) -> io::Result<()> {
    let text = std::fs::read_to_string(places.class_block.join(name).join("dev"))?;
    let (major, minor) = text
        .trim()
        .split_once(':')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .ok_or_else(|| io::Error::other(format!("device number {:?}", text.trim())))?;
    rustix::fs::mknodat(
        rustix::fs::CWD,
        places.dev.join(name),
        rustix::fs::FileType::BlockDevice,
        rustix::fs::Mode::from_raw_mode(0o600),
        rustix::fs::makedev(major, minor),
    )?;
    Ok(())
}

/// How the search ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    Found(Found, Duration),
    NotFound(Vec<String>),
}

/// Searches until the media turns up or `timeout` has passed (always at least once),
/// calling `waiting` once when the first look finds nothing.
pub fn wait_for(
    places: &Places,
    wanted: Option<&str>,
    timeout: Duration,
    mut waiting: impl FnMut(),
) -> Search {
    let start = Instant::now();
    let mut first = true;
    loop {
        let (found, seen) = search_once(places, wanted);
        if let Some(f) = found {
            return Search::Found(f, start.elapsed());
        }
        if start.elapsed() >= timeout {
            return Search::NotFound(seen);
        }
        if first {
            waiting();
            first = false;
        }
        std::thread::sleep(Duration::from_millis(250).min(timeout.saturating_sub(start.elapsed())));
    }
}

/// How the media's files are reached.
#[derive(Debug, Clone)]
pub enum Access {
    /// Mounted at this directory.
    Mounted(PathBuf),
    /// Read from the device with our own ISO 9660 reader.
    Direct(PathBuf),
}

impl Access {
    /// The media as a volume path: the mount point, or the device.
    pub fn path(&self) -> &Path {
        match self {
            Access::Mounted(dir) => dir,
            Access::Direct(dev) => dev,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::blockdevs::tests::fake_sys;

    fn iso_with_label(label: &str) -> Vec<u8> {
        let mut img = vec![0u8; 16 * iso9660::SECTOR];
        let mut d = vec![0u8; iso9660::SECTOR];
        d[0] = 1;
        d[1..6].copy_from_slice(b"CD001");
        d[6] = 1;
        d[40..72].fill(b' ');
        d[40..40 + label.len()].copy_from_slice(label.as_bytes());
        img.extend(d);
        img
    }

    #[test]
    fn finds_the_labelled_volume_and_says_what_the_others_hold() {
        let root = tempfile::tempdir().unwrap();
        let sys = root.path().join("sys");
        fake_sys(
            &sys,
            &[
                ("sr0", 100, &[]),
                ("sdb", 100, &["sdb1"]),
                ("vda", 100, &[]),
                ("dm-0", 100, &[]),
            ],
        );
        let dev = root.path().join("dev");
        std::fs::create_dir(&dev).unwrap();
        std::fs::write(dev.join("sr0"), iso_with_label("DEBIAN_12")).unwrap();
        std::fs::write(dev.join("sdb"), vec![0u8; 40_000]).unwrap();
        std::fs::write(dev.join("sdb1"), iso_with_label("RESCUE_1A2B3C4D")).unwrap();
        let places = Places {
            class_block: sys.join("class/block"),
            dev,
            make_nodes: false,
        };

        let (found, seen) = search_once(&places, None);
        assert_eq!(
            found,
            Some(Found {
                name: "sdb1".into(),
                disk: "sdb".into(),
                label: "RESCUE_1A2B3C4D".into()
            })
        );
        assert_eq!(
            seen,
            vec![
                "/dev/sr0: volume DEBIAN_12",
                "/dev/sdb: no ISO 9660",
                "/dev/vda: No such file or directory"
            ]
        );

        let (found, _) = search_once(&places, Some("RESCUE_FFFFFFFF"));
        assert_eq!(found, None);
        let search = wait_for(&places, Some("RESCUE_FFFFFFFF"), Duration::ZERO, || {
            panic!("no waiting with no time to wait")
        });
        assert!(matches!(search, Search::NotFound(seen) if seen.len() == 4));
    }
}
