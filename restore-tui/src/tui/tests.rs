//! Every screen drawn at 80x24 (ratatui's TestBackend) and compared with its snapshot in
//! `snapshots/`; the states are reached through `update`, as a user would reach them.

use super::app::{App, Screen};
use super::fixtures;
use super::input::TextEdit;
use super::msg::{Finished, FstabEdit, Move, Msg, PlanStep, Progress, StartChoice, VolumeRequest};
use super::update::update;
use super::view::view;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::time::Duration;

/// The screen as text, one quoted line per row.
fn draw(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| view(app, f)).unwrap();
    if width == 0 {
        // TestBackend cannot show a buffer 0 cells wide.
        return String::new();
    }
    terminal.backend().to_string()
}

fn screen(app: &App) -> String {
    draw(app, 80, 24)
}

fn send(app: &mut App, msgs: impl IntoIterator<Item = Msg>) {
    for m in msgs {
        update(app, m);
    }
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        update(app, Msg::Text(TextEdit::Insert(c)));
    }
}

fn down(n: usize) -> impl Iterator<Item = Msg> {
    std::iter::repeat_n(Msg::Move(Move::Down), n)
}

fn at_layout() -> App {
    let mut app = fixtures::app();
    send(&mut app, [Msg::Choose(StartChoice::Interactive), Msg::Next]);
    assert_eq!(app.screen, Screen::Layout);
    app
}

fn at_files() -> App {
    let mut app = at_layout();
    send(&mut app, [Msg::Next]);
    assert_eq!(app.screen, Screen::Files);
    app
}

/// The plan an engine would describe for the fixture, nuked onto /dev/vda.
fn plan() -> Vec<PlanStep> {
    vec![
        PlanStep::destroying("wipe the partition table signatures on /dev/vda", "/dev/vda")
            .with_details(vec!["$ wipefs -a /dev/vda".into()]),
        PlanStep::destroying(
            "write a GPT with 4 partitions on /dev/vda (disk GUID 11111111-2222-4333-8444-555555555555)",
            "/dev/vda",
        ),
        PlanStep::new("have the kernel read the new partition table of /dev/vda")
            .with_details(vec!["$ partx -u /dev/vda".into()]),
        PlanStep::new("wait for /dev/vda1, /dev/vda2, /dev/vda3, /dev/vda4 to appear"),
        PlanStep::destroying("make the FAT filesystem EFI on /dev/vda1", "/dev/vda")
            .with_details(vec!["$ mkfs.vfat -F 32 -i ABCD1234 -n EFI /dev/vda1".into()]),
        PlanStep::destroying("make the ext4 filesystem root on /dev/vda2", "/dev/vda"),
        PlanStep::destroying("make the ext4 filesystem home on /dev/vda3", "/dev/vda"),
        PlanStep::destroying("make the swap area swap on /dev/vda4", "/dev/vda"),
        PlanStep::new("mount /dev/vda2 (ext4, /) at /mnt/restore"),
        PlanStep::new("mount /dev/vda3 (ext4, /home) at /mnt/restore/home"),
        PlanStep::new("mount /dev/vda1 (vfat, /boot/efi) at /mnt/restore/boot/efi"),
        PlanStep::new(
            "restore every file of the backup into /mnt/restore, checking each file against its BLAKE3",
        ),
        PlanStep::new("write the restore log to /mnt/restore/var/log/restore-tui.log"),
        PlanStep::new("unmount /mnt/restore/boot/efi, /mnt/restore/home, /mnt/restore"),
        PlanStep::new("flush everything to the disks"),
    ]
}

fn running() -> App {
    let mut app = fixtures::app();
    send(
        &mut app,
        [Msg::Choose(StartChoice::Nuke), Msg::PlanBuilt(plan())],
    );
    typed(&mut app, "vda");
    send(&mut app, [Msg::Activate]);
    assert_eq!(app.screen, Screen::Progress);
    for line in [
        "wipefs -a /dev/vda: ok",
        "wrote a GPT with 4 partitions on /dev/vda",
        "partx -u /dev/vda: ok",
        "mkfs.vfat -F 32 -i ABCD1234 -n EFI /dev/vda1: ok",
        "mkfs.ext4 -U aaaaaaaa-0000-4000-8000-000000000002 -L root /dev/vda2: ok",
        "mkfs.ext4 -U aaaaaaaa-0000-4000-8000-000000000003 -L home /dev/vda3: ok",
        "mkswap -U aaaaaaaa-0000-4000-8000-000000000004 -L swap /dev/vda4: ok",
        "mounted /dev/vda2 at /mnt/restore",
        "mounted /dev/vda3 at /mnt/restore/home",
        "mounted /dev/vda1 at /mnt/restore/boot/efi",
        "set 1 of 3: 6 files",
        "set 2 of 3: 4 files",
    ] {
        send(&mut app, [Msg::Log(line.into())]);
    }
    send(
        &mut app,
        [
            Msg::Problem("set 2: home/bob/thesis.pdf: BLAKE3 differs from the backup".into()),
            Msg::Progress(Progress {
                step: 12,
                steps: 15,
                step_text: "restore every file of the backup".into(),
                done_bytes: 31 << 20,
                total_bytes: 52 << 20,
                step_done: 31 << 20,
                step_total: 52 << 20,
                file: Some("home/ann/photos/beach.jpg".into()),
                elapsed: Duration::from_secs(83),
            }),
        ],
    );
    app
}

fn finished() -> Finished {
    Finished {
        ok: true,
        summary: vec![
            "13 files, 51.6M restored onto /dev/vda in 2:14".into(),
            "every file matches its BLAKE3".into(),
        ],
        problems: vec![],
        differences: None,
        fstab: vec![
            FstabEdit {
                old: "/dev/sda2".into(),
                new: "/dev/vda2".into(),
            },
            FstabEdit {
                old: "PARTUUID=00000003-aaaa-4bbb-8ccc-dddddddddddd".into(),
                new: "PARTUUID=5e1f0c3a-7d2b-4c11-9a6e-0b8f3d2c4e71".into(),
            },
        ],
    }
}

// ---- the snapshots ----

#[test]
fn start() {
    insta::assert_snapshot!("1_start", screen(&fixtures::app()));
}

#[test]
fn disks() {
    let mut app = fixtures::app();
    send(&mut app, [Msg::Choose(StartChoice::Interactive)]);
    insta::assert_snapshot!("2_disks", screen(&app));
    send(&mut app, [Msg::Cycle(1)]);
    insta::assert_snapshot!("2_disks_larger_target", screen(&app));
}

#[test]
fn disks_too_small() {
    let mut input = fixtures::input();
    input.targets[0].bytes = 4 << 30;
    input.targets.truncate(1);
    let mut app = App::new(input);
    send(
        &mut app,
        [
            Msg::Choose(StartChoice::Interactive),
            Msg::Cycle(1),
            Msg::Next,
        ],
    );
    insta::assert_snapshot!("2_disks_too_small", screen(&app));
}

#[test]
fn layout() {
    let mut app = at_layout();
    send(&mut app, down(3));
    send(&mut app, [Msg::Delete]);
    send(&mut app, down(1));
    insta::assert_snapshot!("3_layout", screen(&app));
}

#[test]
fn layout_with_problems() {
    let mut app = at_layout();
    send(&mut app, down(2));
    send(&mut app, [Msg::Edit, Msg::Text(TextEdit::Clear)]);
    typed(&mut app, "10G");
    send(&mut app, [Msg::Activate]);
    send(&mut app, down(1));
    send(&mut app, [Msg::Next]);
    insta::assert_snapshot!("3_layout_problems", screen(&app));
}

#[test]
fn layout_form() {
    let mut app = at_layout();
    send(&mut app, down(3));
    send(&mut app, [Msg::Edit, Msg::Move(Move::Down)]);
    send(&mut app, [Msg::Cycle(1), Msg::Cycle(1), Msg::Cycle(1)]);
    send(
        &mut app,
        [Msg::Move(Move::Down), Msg::Text(TextEdit::Clear)],
    );
    typed(&mut app, "data");
    send(&mut app, [Msg::Move(Move::Down)]);
    send(&mut app, [Msg::Text(TextEdit::Clear)]);
    typed(&mut app, "srv");
    send(&mut app, [Msg::Activate]);
    insta::assert_snapshot!("3_layout_form", screen(&app));
}

#[test]
fn layout_msdos() {
    let mut app = fixtures::msdos_app();
    send(
        &mut app,
        [Msg::Choose(StartChoice::Interactive), Msg::Next, Msg::Add],
    );
    send(&mut app, [Msg::Text(TextEdit::Clear)]);
    typed(&mut app, "1G");
    send(&mut app, [Msg::Move(Move::Up), Msg::Cycle(1)]);
    insta::assert_snapshot!("3_layout_msdos_add", screen(&app));
    send(&mut app, [Msg::Activate]);
    insta::assert_snapshot!("3_layout_msdos", screen(&app));
}

#[test]
fn layout_add() {
    let mut app = at_layout();
    send(&mut app, [Msg::Add]);
    insta::assert_snapshot!("3_layout_add", screen(&app));
}

#[test]
fn files() {
    let mut app = at_files();
    send(&mut app, down(3));
    send(&mut app, [Msg::Expand]);
    send(&mut app, down(1));
    send(&mut app, [Msg::Expand]);
    send(&mut app, down(2));
    send(&mut app, [Msg::Expand]);
    send(&mut app, down(1));
    send(&mut app, [Msg::Toggle]);
    send(&mut app, down(2));
    send(&mut app, [Msg::Toggle]);
    insta::assert_snapshot!("4_files", screen(&app));
}

#[test]
fn files_search() {
    let mut app = at_files();
    send(&mut app, [Msg::Search]);
    typed(&mut app, "sshd");
    insta::assert_snapshot!("4_files_search_typing", screen(&app));
    send(&mut app, [Msg::Activate]);
    insta::assert_snapshot!("4_files_search_found", screen(&app));
}

#[test]
fn destination() {
    let mut app = at_files();
    send(&mut app, down(3));
    send(&mut app, [Msg::Toggle, Msg::Next]);
    assert_eq!(app.screen, Screen::Destination);
    insta::assert_snapshot!("5_destination", screen(&app));
    send(
        &mut app,
        [
            Msg::Move(Move::Down),
            Msg::Activate,
            Msg::Text(TextEdit::Clear),
        ],
    );
    typed(&mut app, "/mnt/old");
    insta::assert_snapshot!("5_destination_prefix_typing", screen(&app));
    send(&mut app, [Msg::Activate, Msg::Add]);
    typed(&mut app, "/etc=/root/etc.restored");
    send(&mut app, [Msg::Activate]);
    insta::assert_snapshot!("5_destination_rename", screen(&app));
}

#[test]
fn review() {
    let mut app = fixtures::app();
    send(&mut app, [Msg::Choose(StartChoice::Nuke)]);
    insta::assert_snapshot!("6_review_waiting", screen(&app));
    send(&mut app, [Msg::PlanBuilt(plan())]);
    typed(&mut app, "vd");
    insta::assert_snapshot!("6_review", screen(&app));
    send(&mut app, [Msg::Move(Move::PageDown)]);
    insta::assert_snapshot!("6_review_scrolled", screen(&app));
}

#[test]
fn review_refused() {
    let mut input = fixtures::input();
    input.targets.truncate(0);
    let mut app = App::new(input);
    send(&mut app, [Msg::Choose(StartChoice::Nuke)]);
    insta::assert_snapshot!("6_review_refused", screen(&app));
}

#[test]
fn progress() {
    insta::assert_snapshot!("7_progress", screen(&running()));
}

#[test]
fn progress_asking_for_a_volume() {
    let mut app = running();
    let mut request = VolumeRequest {
        name: "volume 2 of 3".into(),
        backup_id: "1A2B3C4D".into(),
        label: "RESCUE_1A2B3C4D_2".into(),
        dir: Some("/mnt/backups/web01".into()),
        seen: Vec::new(),
        looked_again: 0,
    };
    send(&mut app, [Msg::NeedVolume(request.clone())]);
    insta::assert_snapshot!("7_progress_volume", screen(&app));
    request.looked_again = 2;
    request.seen = vec![
        "/mnt/backups/web01: not there".into(),
        "/dev/sr0: volume 3 of backup 1A2B3C4D".into(),
    ];
    send(&mut app, [Msg::NeedVolume(request)]);
    insta::assert_snapshot!("7_progress_volume_again", screen(&app));
}

#[test]
fn after() {
    let mut app = at_layout();
    send(
        &mut app,
        [Msg::Next, Msg::Next, Msg::Next, Msg::PlanBuilt(plan())],
    );
    typed(&mut app, "vda");
    send(&mut app, [Msg::Activate, Msg::Finished(finished())]);
    assert_eq!(app.screen, Screen::After);
    send(&mut app, [Msg::Reboot]);
    insta::assert_snapshot!("8_after", screen(&app));
    send(
        &mut app,
        [Msg::Move(Move::Down), Msg::Edit, Msg::Text(TextEdit::Clear)],
    );
    typed(&mut app, "LABEL=home");
    insta::assert_snapshot!("8_after_editing", screen(&app));
    send(&mut app, [Msg::Activate, Msg::ToggleBootLoader, Msg::Apply]);
    send(&mut app, [Msg::Finalized(Ok(()))]);
    insta::assert_snapshot!("8_after_applied", screen(&app));
}

#[test]
fn after_compare() {
    let mut app = fixtures::app();
    send(&mut app, [Msg::Choose(StartChoice::Compare)]);
    send(
        &mut app,
        [Msg::Finished(compared(vec![
            "MISSING (1):".into(),
            "  /home/bob/thesis.pdf".into(),
            "CHANGED (1):".into(),
            "  /etc/hostname: content (BLAKE3)".into(),
            "EXTRA (1):".into(),
            "  /var/log/new.log".into(),
            "3 differences: 1 missing, 1 changed, 1 extra".into(),
        ]))],
    );
    insta::assert_snapshot!("8_after_compare", screen(&app));
}

/// A compare's Finished as the worker makes it: `report` is the report's lines after the
/// first, the differences counted from it.
fn compared(report: Vec<String>) -> Finished {
    let differences = report
        .iter()
        .filter(|l| l.starts_with("  "))
        .map(|l| {
            l.strip_prefix("  ... and ")
                .and_then(|l| l.strip_suffix(" more"))
                .map_or(1, |n| n.parse().unwrap())
        })
        .sum();
    Finished {
        ok: false,
        summary: vec![
            "compared 14 entries with /mnt/restore: 13 files read and hashed (51.6M)".into(),
        ],
        problems: report,
        differences: Some(differences),
        fstab: vec![],
    }
}

#[test]
fn after_compare_counts_the_files_not_the_lines() {
    let mut app = fixtures::app();
    send(&mut app, [Msg::Choose(StartChoice::Compare)]);
    send(
        &mut app,
        [Msg::Finished(compared(vec![
            "CHANGED (1):".into(),
            "  /var/corpus/srv/data/d00/f00000.bin: content (BLAKE3)".into(),
            "1 difference: 0 missing, 1 changed, 0 extra".into(),
        ]))],
    );
    let text = screen(&app);
    assert!(
        text.contains(" Compare finished: 1 difference from the backup "),
        "{text}"
    );
    assert!(!text.contains("problem"), "{text}");
    assert!(!text.contains("more"), "nothing is cut:\n{text}");
    insta::assert_snapshot!("8_after_compare_one", text);
}

#[test]
fn after_compare_scrolls_through_a_long_report() {
    let mut app = fixtures::app();
    send(&mut app, [Msg::Choose(StartChoice::Compare)]);
    // As the worker sends it: the first 100 paths of a section and how many more.
    let report: Vec<String> = std::iter::once("CHANGED (293):".to_string())
        .chain((0..100).map(|n| format!("  /boot/grub/i386-pc/mod{n:03}.mod: mtime")))
        .chain([
            "  ... and 193 more".to_string(),
            "EXTRA (1):".to_string(),
            "  /var/corpus/new.txt".to_string(),
            "294 differences: 0 missing, 293 changed, 1 extra".to_string(),
        ])
        .collect();
    send(&mut app, [Msg::Finished(compared(report))]);
    let top = screen(&app);
    assert!(
        top.contains("Compare finished: 294 differences from the backup"),
        "{top}"
    );
    assert!(top.contains("(lines 1-18 of 105: 87 more below;"), "{top}");
    assert!(
        !top.contains("in the log"),
        "a compare writes no log:\n{top}"
    );
    insta::assert_snapshot!("8_after_compare_long", top);
    send(&mut app, [Msg::Move(Move::End)]);
    send(&mut app, [Msg::Move(Move::PageUp)]);
    let end = screen(&app);
    assert!(end.contains("  ... and 193 more"), "{end}");
    assert!(end.contains("294 differences: 0 missing"), "{end}");
    insta::assert_snapshot!("8_after_compare_scrolled", end);
}

/// A restore onto other device names: the disk's six partitions renamed, every one
/// named so in its fstab (two rows each on the After screen).
fn renamed_six() -> Finished {
    Finished {
        ok: true,
        summary: vec![
            "web1 restored onto /dev/vda".into(),
            "13 files (51.6M) from 3 sets".into(),
            "still mounted at /mnt/restore until w (fstab, boot loader, log, unmount)".into(),
        ],
        problems: vec![],
        differences: None,
        fstab: (1..=6)
            .map(|n| FstabEdit {
                old: format!("/dev/loop0p{n}"),
                new: format!("/dev/vda{n}"),
            })
            .collect(),
    }
}

#[test]
fn after_with_many_fstab_changes_keeps_boot_loader_and_state_on_screen() {
    let mut app = at_layout();
    send(
        &mut app,
        [Msg::Next, Msg::Next, Msg::Next, Msg::PlanBuilt(plan())],
    );
    typed(&mut app, "vda");
    send(&mut app, [Msg::Activate, Msg::Finished(renamed_six())]);
    let top = screen(&app);
    for text in [
        "Boot loader  [x] reinstall GRUB",
        "State        not applied yet",
        "(changes 1-4 of 6: 2 more below; Up/Down)",
        "w apply",
    ] {
        assert!(top.contains(text), "{text}:\n{top}");
    }
    insta::assert_snapshot!("8_after_fstab_many", top);
    send(&mut app, down(5));
    send(
        &mut app,
        [Msg::ToggleBootLoader, Msg::Apply, Msg::Finalized(Ok(()))],
    );
    let end = screen(&app);
    for text in [
        "> /dev/loop0p6",
        "Boot loader  [ ] reinstall GRUB",
        "State        applied: safe to reboot",
        "(changes 3-6 of 6: 2 above; Up/Down)",
    ] {
        assert!(end.contains(text), "{text}:\n{end}");
    }
    insta::assert_snapshot!("8_after_fstab_scrolled", end);
}

#[test]
fn after_a_restore_with_problems_shares_the_rows_with_fstab() {
    let mut app = at_layout();
    send(
        &mut app,
        [Msg::Next, Msg::Next, Msg::Next, Msg::PlanBuilt(plan())],
    );
    typed(&mut app, "vda");
    let mut f = renamed_six();
    f.ok = false;
    f.problems = [
        "the files were restored with problems: 1 set problem(s), 25 file(s) not restored, \
         0 file(s) differing from the backup"
            .to_string(),
        "missing: volume 2 of backup 1A2B3C4D (sets 4-6)".to_string(),
    ]
    .into_iter()
    .chain((1..=25).map(|n| format!("not restored: /data/d{n:02}: its set 5 is missing")))
    .collect();
    send(&mut app, [Msg::Activate, Msg::Finished(f)]);
    send(&mut app, [Msg::Move(Move::PageDown)]);
    let text = screen(&app);
    for text_ in [
        "Restore finished with 27 problem(s)",
        "(lines 11-14 of 27: 13 more below, 10 above; PgUp/PgDn)",
        "Boot loader  [x]",
        "State        not applied yet",
    ] {
        assert!(text.contains(text_), "{text_}:\n{text}");
    }
    insta::assert_snapshot!("8_after_problems_and_fstab", text);
}

#[test]
fn a_small_terminal_gets_the_screen_cut_not_broken() {
    let mut app = at_layout();
    send(&mut app, down(2));
    insta::assert_snapshot!("small_layout_50x12", draw(&app, 50, 12));
    insta::assert_snapshot!("small_start_40x8", draw(&fixtures::app(), 40, 8));
}

/// Every screen at every size down to nothing: no panic, the help line at the bottom.
#[test]
fn every_screen_draws_at_any_size() {
    let mut states: Vec<App> = vec![fixtures::app()];
    let mut disks = fixtures::app();
    send(&mut disks, [Msg::Choose(StartChoice::Interactive)]);
    states.push(disks);
    let mut form = at_layout();
    send(&mut form, down(2));
    send(&mut form, [Msg::Edit]);
    states.push(form);
    let mut search = at_files();
    send(&mut search, [Msg::Search]);
    typed(&mut search, "a long search text that does not fit");
    states.push(search);
    let mut dest = at_files();
    send(&mut dest, [Msg::Next, Msg::Add]);
    typed(&mut dest, "/home=/tmp/home");
    states.push(dest);
    let mut review = fixtures::app();
    send(
        &mut review,
        [Msg::Choose(StartChoice::Nuke), Msg::PlanBuilt(plan())],
    );
    states.push(review);
    states.push(running());
    let mut after = running();
    send(&mut after, [Msg::Finished(finished()), Msg::Edit]);
    states.push(after);
    let mut crowded = running();
    let mut f = renamed_six();
    f.problems = (1..=40).map(|n| format!("problem {n}")).collect();
    send(
        &mut crowded,
        [Msg::Finished(f), Msg::Move(Move::End), Msg::Edit],
    );
    states.push(crowded);
    let mut compare = fixtures::app();
    send(&mut compare, [Msg::Choose(StartChoice::Compare)]);
    send(
        &mut compare,
        [Msg::Finished(compared(
            (1..=60).map(|n| format!("  /f{n}: content")).collect(),
        ))],
    );
    states.push(compare);
    for app in &states {
        for width in [0, 1, 2, 5, 10, 20, 33, 40, 60, 79, 80, 81, 120] {
            for height in [0, 1, 2, 3, 4, 5, 6, 8, 12, 23, 24, 25, 40] {
                let text = draw(app, width, height);
                if width >= 20 && height >= 1 {
                    let last = text.lines().last().unwrap_or_default();
                    assert!(
                        last.starts_with("\" ") && last.trim_matches('"').trim().len() > 3,
                        "{:?} at {width}x{height}: no help line: {last}",
                        app.screen
                    );
                }
            }
        }
    }
}
