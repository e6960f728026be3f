//! The tar reader and the extractor on any bytes: whatever an archive holds, nothing is
//! created, changed or linked outside the extraction root (see rescue_fuzz::scratch), and
//! nothing panics or blocks. libFuzzer's timeout alarm interrupts a blocked system call
//! (opening a FIFO, say) every few seconds, which the extractor then reports as an error:
//! an "interrupted" error is taken for the hang it would be in a restore. The input is one or more tar streams back to back, as the sets
//! of a backup are extracted in turn by one extractor; its first byte chooses the
//! extractor's options.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rescue_core::archive::{ArchiveError, Extractor, TarReader};
use rescue_fuzz::scratch::Scratch;
use std::error::Error;
use std::io;
use std::sync::Mutex;

/// Sets read from one input at most.
const MAX_SETS: usize = 4;
/// Entries extracted from one input at most.
const MAX_ENTRIES: usize = 2000;

static SCRATCH: Mutex<Option<Scratch>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let Some((&options, mut rest)) = data.split_first() else {
        return;
    };
    let mut guard = SCRATCH.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = guard.get_or_insert_with(Scratch::new);
    scratch.reset();

    let mut extractor = Extractor::new(scratch.root())
        .expect("opening the scratch root")
        .verify(options & 1 != 0)
        .numeric_owner(options & 2 == 0)
        // Names are looked up in the restored tree's etc/passwd and etc/group, as a
        // restore does: the archive writes them.
        .names_from(scratch.root());
    if options & 4 != 0 {
        extractor = extractor
            .mapping(vec![
                (b"home".to_vec(), b"tmp/home".to_vec()),
                (b"srv/data".to_vec(), Vec::new()),
            ])
            .expect("a valid mapping");
    }

    let mut entries = 0;
    for _ in 0..MAX_SETS {
        if rest.is_empty() {
            break;
        }
        let mut reader = TarReader::new(rest);
        loop {
            match reader.next_entry() {
                Ok(None) => break,
                Ok(Some((meta, mut entry))) => {
                    entries += 1;
                    match extractor.extract(&meta, &mut entry) {
                        Ok(done) => {
                            assert!(
                                !done.path.starts_with(b"/")
                                    && !done.path.split(|&b| b == b'/').any(|c| c == b".."),
                                "extracted to {:?}",
                                String::from_utf8_lossy(&done.path)
                            );
                            done.problems.iter().for_each(check_not_blocked);
                        }
                        Err(e) => check_not_blocked(&e),
                    }
                    if entries >= MAX_ENTRIES {
                        break;
                    }
                }
                Err(e) if e.is_fatal() => break,
                Err(_) => {}
            }
        }
        let used = usize::try_from(reader.offset()).unwrap_or(usize::MAX);
        if used == 0 || entries >= MAX_ENTRIES {
            break;
        }
        rest = &rest[used.min(rest.len())..];
    }
    extractor.finish().iter().for_each(check_not_blocked);
    drop(extractor);
    scratch.check_outside();
});

/// Panics on an error that is a blocked system call interrupted by a signal.
fn check_not_blocked(e: &ArchiveError) {
    let mut source: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::Interrupted)
        {
            panic!("extraction blocked until a signal interrupted it (a restore would hang): {e}");
        }
        source = s.source();
    }
}
