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
        [Msg::Finished(Finished {
            ok: false,
            summary: vec!["13 files compared with the backup: 11 the same".into()],
            problems: vec![
                "changed: /etc/hostname (BLAKE3 differs)".into(),
                "missing: /home/bob/thesis.pdf".into(),
                "extra: /var/log/new.log".into(),
            ],
            fstab: vec![],
        })],
    );
    insta::assert_snapshot!("8_after_compare", screen(&app));
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
