//! The volumes a restore was not given, found when it reaches their sets: in the directory
//! of volumes given (again: one may have been copied there meanwhile), and on the attached
//! block devices (an ISO 9660 volume labelled `RESCUE_<id>_<n>`, read without mounting).
//! When it is nowhere, someone at the terminal is asked to insert it (Enter looks again,
//! `s` skips); unattended (`--yes`), it is looked for a while, then skipped. A skipped
//! volume's files are listed as not restored.

use crate::init::console::{self, Input};
use crate::init::media::{self, Places};
use anyhow::Context;
use rescue_core::error_text::chain;
use rescue_core::media::{CoveredFile, Manifest};
use rescue_core::restore_files::VolumeSource;
use rescue_core::signature::Trust;
use rescue_core::volume::{scan_volumes_with, Scan, Volume};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long an unattended restore waits for a volume it does not find at once (a USB
/// stick still settling, a drive still spinning up).
pub const UNATTENDED_WAIT: Duration = Duration::from_secs(10);

/// What to do when a volume is nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// Ask on the terminal: Enter looks again, `s` skips.
    Prompt,
    /// No one to ask: look again for this long, then skip.
    Unattended { wait: Duration },
}

impl Ask {
    /// Asks unless `yes` (no questions).
    pub fn from_yes(yes: bool) -> Ask {
        if yes {
            Ask::Unattended {
                wait: UNATTENDED_WAIT,
            }
        } else {
            Ask::Prompt
        }
    }
}

/// Where a missing volume is looked for: a directory of volumes, and the block devices.
#[derive(Debug, Clone)]
pub struct Search {
    places: Places,
    /// A directory of volumes to look in again.
    dir: Option<PathBuf>,
    /// Which volumes are accepted (`--trusted-key`).
    trust: Trust,
}

impl Search {
    pub fn new(places: Places, trust: Trust) -> Search {
        Search {
            places,
            dir: None,
            trust,
        }
    }

    /// Also looks in the directory `scan` searched, when it was a directory of volumes
    /// (not one volume given by itself).
    pub fn looking_in(mut self, scan: &Scan) -> Search {
        if scan.searched {
            self.dir = Some(scan.looked_in.clone());
        }
        self
    }

    /// The directory of volumes looked in, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Looks once: the volume, or what was seen instead, one item per place.
    pub fn look(&self, backup_id: &str, number: u32) -> Result<Volume, Vec<String>> {
        let wanted = |v: &Volume| {
            let m = v.manifest();
            m.backup_id == backup_id && m.volume == number
        };
        let mut seen = Vec::new();
        if let Some(dir) = &self.dir {
            match scan_volumes_with(dir, &self.trust) {
                Ok(scan) => match scan.volumes.into_iter().find(wanted) {
                    Some(v) => return Ok(v),
                    None => seen.push(format!("{}: not there", dir.display())),
                },
                Err(e) => seen.push(chain(&e)),
            }
        }
        let label = Manifest::volume_label(backup_id, number);
        let (found, others) = media::search_once(&self.places, Some(&label));
        // Only what holds a volume of some kind is worth naming.
        seen.extend(others.into_iter().filter(|s| s.contains(": volume ")));
        if let Some(f) = found {
            let dev = self.places.dev.join(&f.name);
            match Volume::open_with(&dev, &self.trust) {
                Ok(v) if wanted(&v) => return Ok(v),
                Ok(v) => seen.push(format!(
                    "{}: labelled {label}, but its manifest says volume {} of backup {}",
                    dev.display(),
                    v.manifest().volume,
                    v.manifest().backup_id
                )),
                Err(e) => seen.push(chain(&e)),
            }
        }
        Err(seen)
    }
}

/// "volume 2 of 3", or "volume 2" when the count is not known.
pub fn volume_name(number: u32, of: Option<u32>) -> String {
    match of {
        Some(of) => format!("volume {number} of {of}"),
        None => format!("volume {number}"),
    }
}

/// Finds volumes in a directory and on block devices, and asks for them on the console.
pub struct Finder {
    search: Search,
    ask: Ask,
    /// Reads one answer; the console's unbuffered reader, so that what follows the answer
    /// stays on stdin for whoever reads next.
    read: fn() -> io::Result<Input>,
}

impl std::fmt::Debug for Finder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Finder")
            .field("search", &self.search)
            .field("ask", &self.ask)
            .finish_non_exhaustive()
    }
}

/// The volumes at `media` (an image, a device, a volume directory or a directory of
/// volumes); one that looks like a volume but cannot be read, or is refused by `trust`, is
/// an error.
pub fn scan_at(media: &Path, trust: &Trust) -> anyhow::Result<Scan> {
    let finding = || format!("finding the backup's volumes at {}", media.display());
    let mut scan = scan_volumes_with(media, trust).with_context(finding)?;
    if !scan.unreadable.is_empty() {
        return Err(anyhow::Error::new(scan.unreadable.remove(0)).context(finding()));
    }
    Ok(scan)
}

/// The volumes at `media` ([`scan_at`]) with volume 1 among them, which is returned too:
/// it holds the mountlist and the catalog.
pub fn backup_at(media: &Path, trust: &Trust) -> anyhow::Result<(Scan, Volume)> {
    let scan = scan_at(media, trust)?;
    let first = scan
        .volumes
        .iter()
        .find(|v| v.manifest().volume == 1)
        .with_context(|| {
            format!(
                "volume 1 of the backup (it holds the mountlist and the catalog) is not at {}",
                media.display()
            )
        })?
        .clone();
    Ok((scan, first))
}

/// Says which of volume 1's files its manifest does not cover (written by an older
/// mkrescue): they are used unchecked.
pub fn say_uncovered(first: &Volume) {
    for file in CoveredFile::ALL {
        if let Some(note) = first.uncovered_note(file) {
            say(&format!("note: {note}"));
        }
    }
}

/// The host's own block devices.
pub fn host_places() -> Places {
    Places {
        class_block: PathBuf::from("/sys/class/block"),
        dev: PathBuf::from("/dev"),
        make_nodes: false,
    }
}

impl Finder {
    pub fn new(search: Search, ask: Ask) -> Finder {
        Finder {
            search,
            ask,
            read: console::read_line,
        }
    }

    fn prompt(&self, what: &str, label: &str, backup_id: &str, number: u32) -> Option<Volume> {
        loop {
            say_more(&format!(
                "Insert {what} of backup {backup_id} (label {label}) and press Enter; type s \
                 to skip its files: "
            ));
            match (self.read)() {
                Ok(Input::Line(l)) if matches!(l.trim(), "s" | "S" | "skip") => {
                    say(&format!("skipping {what}: its files are not restored"));
                    return None;
                }
                Ok(Input::Line(_)) => match self.search.look(backup_id, number) {
                    Ok(v) => {
                        say(&format!("found {what} at {}", v.path().display()));
                        return Some(v);
                    }
                    Err(seen) => say(&format!("{what} is not there yet{}", listed(&seen))),
                },
                Ok(Input::Eof) => {
                    say(&format!(
                        "\nno answer (the input ended): going on without {what}; its files \
                         are not restored"
                    ));
                    return None;
                }
                Err(e) => {
                    say(&format!(
                        "\ncannot read the answer ({e}): going on without {what}; its files \
                         are not restored"
                    ));
                    return None;
                }
            }
        }
    }

    fn wait(
        &self,
        what: &str,
        label: &str,
        backup_id: &str,
        number: u32,
        wait: Duration,
    ) -> Option<Volume> {
        if !wait.is_zero() {
            say(&format!(
                "{what} of backup {backup_id} (label {label}) is not here yet: looking for \
                 it for {} s",
                wait.as_secs()
            ));
        }
        let start = Instant::now();
        let mut seen = Vec::new();
        while start.elapsed() < wait {
            std::thread::sleep(Duration::from_millis(500).min(wait - start.elapsed()));
            match self.search.look(backup_id, number) {
                Ok(v) => {
                    say(&format!("found {what} at {}", v.path().display()));
                    return Some(v);
                }
                Err(s) => seen = s,
            }
        }
        say(&format!(
            "{what} of backup {backup_id} (label {label}) was not found{}: going on \
             without it; its files are not restored",
            listed(&seen)
        ));
        None
    }
}

impl VolumeSource for Finder {
    fn volume(&mut self, backup_id: &str, number: u32, of: Option<u32>) -> Option<Volume> {
        let what = volume_name(number, of);
        let label = Manifest::volume_label(backup_id, number);
        // What the first look saw is said again after the wait or the answer.
        if let Ok(v) = self.search.look(backup_id, number) {
            say(&format!("found {what} at {}", v.path().display()));
            return Some(v);
        }
        match self.ask {
            Ask::Prompt => self.prompt(&what, &label, backup_id, number),
            Ask::Unattended { wait } => {
                // One wait for the whole restore: after it, nobody is coming with the
                // missing volumes, and a manifest that claims thousands of them must not
                // cost a wait each.
                self.ask = Ask::Unattended {
                    wait: Duration::ZERO,
                };
                self.wait(&what, &label, backup_id, number, wait)
            }
        }
    }
}

/// " (seen: a; b)", or nothing.
fn listed(seen: &[String]) -> String {
    if seen.is_empty() {
        String::new()
    } else {
        format!(" (seen: {})", seen.join("; "))
    }
}

fn say(line: &str) {
    say_more(&format!("{line}\n"));
}

/// Written whole and flushed: the prompt must show before the answer is read.
fn say_more(text: &str) {
    let mut out = io::stdout().lock();
    // A console that cannot be written to is no reason to stop a restore.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unattended_only_with_yes() {
        assert_eq!(Ask::from_yes(false), Ask::Prompt);
        assert!(matches!(Ask::from_yes(true), Ask::Unattended { .. }));
    }
}
