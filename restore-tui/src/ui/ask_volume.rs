//! Missing volumes, for a restore run from the terminal UI: looked for quietly (the
//! directory of volumes, the attached devices), then asked for with a dialog instead of a
//! console prompt, which would tear the full-screen display. The engine thread waits on
//! the answer while the UI keeps drawing.

use crate::engine::volumes::{volume_name, Search};
use crate::tui::{Msg, VolumeAnswer, VolumeRequest};
use rescue_core::media::Manifest;
use rescue_core::restore_files::VolumeSource;
use rescue_core::volume::Volume;
use std::sync::mpsc::{Receiver, Sender};

/// Finds volumes with `search`; asks the UI for those it does not find.
pub struct AskTheUi {
    pub search: Search,
    pub news: Sender<Msg>,
    pub answers: Receiver<VolumeAnswer>,
}

impl AskTheUi {
    fn log(&self, line: String) {
        // A send fails only when the UI is gone; the restore goes on regardless.
        let _ = self.news.send(Msg::Log(line));
    }
}

impl VolumeSource for AskTheUi {
    fn volume(&mut self, backup_id: &str, number: u32, of: Option<u32>) -> Option<Volume> {
        let name = volume_name(number, of);
        let mut request = VolumeRequest {
            name: name.clone(),
            backup_id: backup_id.to_string(),
            label: Manifest::volume_label(backup_id, number),
            dir: self.search.dir().map(|d| d.display().to_string()),
            seen: Vec::new(),
            looked_again: 0,
        };
        loop {
            match self.search.look(backup_id, number) {
                Ok(v) => {
                    self.log(format!("found {name} at {}", v.path().display()));
                    return Some(v);
                }
                // The first look is not worth reporting: the dialog says what to do.
                Err(seen) if request.looked_again > 0 => request.seen = seen,
                Err(_) => {}
            }
            if self.news.send(Msg::NeedVolume(request.clone())).is_err() {
                // The UI is gone: there is no one to ask.
                return None;
            }
            match self.answers.recv() {
                Ok(VolumeAnswer::LookAgain) => request.looked_again += 1,
                Ok(VolumeAnswer::Skip) => {
                    self.log(format!("skipping {name}: its files are not restored"));
                    return None;
                }
                Err(_) => {
                    self.log(format!(
                        "the UI has ended: going on without {name}; its files are not restored"
                    ));
                    return None;
                }
            }
        }
    }
}
