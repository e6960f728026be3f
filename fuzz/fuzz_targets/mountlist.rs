//! The mountlist file on any text: loaded (version first) and validated, or refused with an
//! error, never a panic; what loads is rendered as restore-tui shows it and writes back as
//! the same mountlist. A valid one is fitted onto a disk half and twice its size, as a
//! restore onto another disk does: a fit that succeeds gives a valid mountlist.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rescue_core::mountlist::resize::{fit_disk, ResizeMode};
use rescue_core::mountlist::{self, render, validate};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ml = match mountlist::from_json(text) {
        Ok(ml) => ml,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let problems = validate::validate(&ml);
    for p in &problems {
        let _ = p.to_string();
    }
    let _ = render::table(&ml);
    let _ = render::compact(&ml);
    let again =
        mountlist::from_json(&mountlist::to_json(&ml)).expect("a mountlist written reads back");
    assert_eq!(again, ml);
    if validate::has_errors(&problems) {
        return;
    }
    for (i, disk) in ml.disks.iter().enumerate() {
        for target in [disk.sectors / 2, disk.sectors.saturating_mul(2)] {
            for mode in [ResizeMode::Proportional, ResizeMode::GrowLast] {
                let Ok(fitted) = fit_disk(disk, target, mode) else {
                    continue;
                };
                let mut after = ml.clone();
                after.disks[i] = fitted;
                let problems = validate::validate(&after);
                assert!(
                    !validate::has_errors(&problems),
                    "{} fitted to {target} sectors ({mode:?}) is invalid: {problems:?}",
                    disk.path
                );
            }
        }
    }
});
