//! A real distribution restored: the Debian 12 machine of `qemu_tests::debian` (systemd,
//! the cloud kernel, GRUB for BIOS and UEFI on one GPT disk, ext4 / and /home, xfs /srv,
//! swap) is driven as a sysadmin drives a server.
//!
//! 1. It boots by itself to a login prompt under OVMF and under SeaBIOS, and systemd says
//!    `running`.
//! 2. mkrescue and the static restore-tui are put into a copy of it (with a corpus of hard
//!    cases in /home and /srv), it is booted, root logs in on the serial console, mounts a
//!    second disk and runs `mkrescue create --output` there, in the running system. This
//!    happens once for both rehearsals, and is kept in the target directory for as long as
//!    the machine and the two binaries are the same ([`created`]).
//! 3. `mkrescue rehearse --boot-check --boot-check-expect login:` under each firmware, then
//!    the kept restored disks boot alone, root logs in and systemd says `running`, and each
//!    restored filesystem is compared with the source's from the host
//!    (`qemu_tests::debian::tree_diff` says which differences the running systems made).

use host_tests::{command, host_lock, output, require_root_or_skip, run, LoopDisk, Mounts};
use qemu_tests::debian::guest::Guest;
use qemu_tests::debian::tree_diff::{self, Marks, Sorted, Trees};
use qemu_tests::debian::{self, FileLock, Machine, ROOT_PASSWORD};
use qemu_tests::{mkrescue_bin, require_qemu, restore_tui_bin, Firmware, VmOptions};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Memory of every guest, in MiB.
const MEMORY_MB: u32 = 1024;
/// How long a boot to the login prompt may take (TCG, two guests on two cores).
const BOOT_LIMIT: Duration = Duration::from_secs(300);
/// How long `mkrescue create` may take inside the guest.
const CREATE_LIMIT: Duration = Duration::from_secs(20 * 60);
/// The output disk's label, as the guest mounts it.
const OUT_LABEL: &str = "rescue-out";
/// Bump when what [`created`] does changes.
const CREATE_VERSION: u32 = 1;

fn required() -> bool {
    require_qemu()
        && require_root_or_skip()
        && host_tests::require_tools(&["mmdebstrap", "mcopy", "mkfs.xfs", "mkfs.vfat"])
}

fn secs(d: Duration) -> String {
    format!("{:.0} s", d.as_secs_f64())
}

/// A scratch directory on disk (images are large; /tmp may be a small tmpfs).
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("mkrescue-debian-")
        .tempdir_in("/var/tmp")
        .unwrap()
}

/// Copies serial logs and reports of a failed test where they outlive it:
/// target/qemu-artifacts/<test>/.
fn keep_artifacts(files: &[&Path]) -> String {
    let test = std::thread::current()
        .name()
        .unwrap_or("debian")
        .replace("::", "-");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("../qemu-artifacts")
        .join(test);
    let _ = fs::create_dir_all(&dir);
    for f in files {
        let name = f
            .strip_prefix(f.ancestors().nth(2).unwrap_or(Path::new("/")))
            .unwrap_or(f)
            .to_string_lossy()
            .replace('/', "-");
        // What a run that stopped early did not make is simply not there.
        let _ = fs::copy(f, dir.join(name));
    }
    dir.display().to_string()
}

/// Boots `disks` under `firmware` until a login prompt, logs in as root and asks systemd
/// how the system is (waiting for the boot to finish, bounded). Returns the guest (logged
/// in), the time to the login prompt and systemd's answer; a state other than `running`
/// comes with the failed units.
fn boot_and_log_in(
    firmware: Firmware,
    disks: Vec<PathBuf>,
    dir: &Path,
) -> anyhow::Result<(Guest, Duration, String)> {
    fs::create_dir_all(dir)?;
    let opts = VmOptions {
        firmware,
        disks,
        memory_mb: MEMORY_MB,
        ..VmOptions::default()
    };
    let mut guest = Guest::start(&opts, dir)?;
    let login = guest.wait_for_login_prompt(BOOT_LIMIT)?;
    guest.log_in("root", ROOT_PASSWORD)?;
    let state = guest
        .run(
            "timeout 300 systemctl is-system-running --wait",
            Duration::from_secs(330),
        )?
        .output
        .trim()
        .to_string();
    let state = if state == "running" {
        state
    } else {
        let failed = guest.run("systemctl --failed --no-legend", Duration::from_secs(60))?;
        format!("{state}; failed units:\n{}", failed.output)
    };
    Ok((guest, login, state))
}

#[test]
fn boots_by_itself_to_a_running_system_under_ovmf_and_under_seabios() {
    if !required() {
        return;
    }
    let machine = debian::machine().expect("the Debian machine");
    let work = scratch();
    let image = work.path().join("disk.img");
    machine.copy_image(&image).unwrap();
    for firmware in [Firmware::Uefi, Firmware::Bios] {
        let dir = work.path().join(firmware.name());
        let started = Instant::now();
        let result = boot_and_log_in(firmware, vec![image.clone()], &dir);
        let (guest, login, state) = result.unwrap_or_else(|e| {
            let kept = keep_artifacts(&[&dir.join("serial.log")]);
            panic!("{}: {e:#}\n(serial log in {kept})", firmware.name())
        });
        assert_eq!(state, "running", "{}", firmware.name());
        let running = started.elapsed();
        guest.power_off(Duration::from_secs(120)).unwrap();
        eprintln!(
            "{}: login prompt after {}, systemd running after {}, powered off after {}",
            firmware.name(),
            secs(login),
            secs(running),
            secs(started.elapsed())
        );
    }
}

/// What [`created`] recorded of the run of `mkrescue create` inside the machine.
#[derive(Debug, Serialize, Deserialize)]
struct CreateRun {
    /// create's exit status.
    status: i32,
    /// The guest's clock (seconds, nanoseconds) just before create started.
    started_at: (i64, i64),
    /// systemd's state before create ran.
    system_state: String,
    login_seconds: f64,
    create_seconds: f64,
    session_seconds: f64,
}

/// The media `mkrescue create` made inside the running machine, and that machine's disk
/// as it was when it powered off.
#[derive(Debug)]
struct Created {
    dir: PathBuf,
    run: CreateRun,
}

impl Created {
    fn media(&self) -> PathBuf {
        self.dir.join("media")
    }

    fn source_image(&self) -> PathBuf {
        self.dir.join("source.img")
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("create.log")).unwrap_or_default()
    }

    /// The guest's mount table while create ran.
    fn mountinfo(&self) -> Vec<rescue_core::mountinfo::MountEntry> {
        let text = fs::read_to_string(self.dir.join("mountinfo")).unwrap();
        rescue_core::mountinfo::parse(&text).unwrap()
    }

    /// create exited 0; else panics with its output.
    fn assert_succeeded(&self) {
        assert_eq!(
            self.run.status,
            0,
            "mkrescue create inside the machine failed; its output:\n{}",
            self.log()
        );
    }
}

/// The run of `mkrescue create` inside the machine: done once (under a lock, so the tests
/// that need it share it) and kept under the target directory, keyed by the machine and
/// the two binaries. A session that did not get to the end is never kept.
fn created(machine: &Machine) -> Created {
    let mkrescue = mkrescue_bin().unwrap();
    let restore_tui = restore_tui_bin().unwrap();
    let mut h = blake3::Hasher::new();
    h.update(format!("{CREATE_VERSION}\0{}\0", machine.facts().key).as_bytes());
    for bin in [&mkrescue, &restore_tui] {
        h.update(&fs::read(bin).unwrap());
    }
    let key = &h.finalize().to_hex()[..16];
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    fs::create_dir_all(base).unwrap();
    let _lock = FileLock::take(&base.join("debian-created.lock")).unwrap();
    let dir = base.join(format!("debian-created-{key}"));
    if dir.join("run.json").is_file() {
        let run = debian::read_json(&dir.join("run.json")).unwrap();
        return Created { dir, run };
    }
    let partial = base.join(format!("debian-created-{key}.partial"));
    if partial.exists() {
        drop(host_tests::MountedBelow::new(&partial));
        fs::remove_dir_all(&partial).unwrap();
    }
    fs::create_dir_all(&partial).unwrap();
    let run = create_inside(machine, &mkrescue, &restore_tui, &partial).unwrap_or_else(|e| {
        let kept = keep_artifacts(&[&partial.join("vm/serial.log")]);
        panic!("the session that runs mkrescue create in the machine failed: {e:#}\n(serial log in {kept})")
    });
    debian::write_json(&partial.join("run.json"), &run).unwrap();
    fs::rename(&partial, &dir).unwrap();
    // Earlier runs are out of date.
    for e in fs::read_dir(base).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("debian-created-") && e.path().is_dir() && e.path() != dir {
            let _ = fs::remove_dir_all(e.path());
        }
    }
    Created { dir, run }
}

/// The session of [`created`], in `dir`: source.img, media/, create.log, mountinfo.
fn create_inside(
    machine: &Machine,
    mkrescue: &Path,
    restore_tui: &Path,
    dir: &Path,
) -> anyhow::Result<CreateRun> {
    let session = Instant::now();
    let image = dir.join("source.img");
    machine.copy_image(&image)?;
    add_tools_and_corpora(machine, &image, mkrescue, restore_tui, &dir.join("mnt"));
    let out = dir.join("out.img");
    fs::File::create(&out)?.set_len(debian::DISK_BYTES)?;
    run(command("mkfs.ext4")
        .args(["-q", "-F", "-L", OUT_LABEL])
        .arg(&out));

    let (mut guest, login, system_state) =
        boot_and_log_in(Firmware::Uefi, vec![image, out.clone()], &dir.join("vm"))?;
    let minute = Duration::from_secs(60);
    guest.run_ok(
        &format!("mkdir -p /mnt/out && mount LABEL={OUT_LABEL} /mnt/out"),
        minute,
    )?;
    guest.run_ok("cat /proc/self/mountinfo > /mnt/out/mountinfo", minute)?;
    let now = guest.run_ok("date +%s.%N", minute)?;
    let started_at = parse_stamp(now.trim())?;
    let t = Instant::now();
    let ran = guest.run(
        "mkrescue create --output /mnt/out/media > /mnt/out/create.log 2>&1",
        CREATE_LIMIT,
    )?;
    let create_seconds = t.elapsed().as_secs_f64();
    guest.run_ok("umount /mnt/out", minute)?;
    guest.power_off(Duration::from_secs(180))?;

    let lock = host_lock();
    let mnt = dir.join("out");
    let mut mounts = Mounts::new();
    mounts.mount(&out.display().to_string(), &mnt, Some("loop,ro"));
    run(command("cp")
        .arg("-a")
        .arg(mnt.join("media"))
        .arg(mnt.join("create.log"))
        .arg(mnt.join("mountinfo"))
        .arg(dir));
    drop(mounts);
    drop(lock);
    fs::remove_dir(&mnt)?;
    fs::remove_file(&out)?;
    Ok(CreateRun {
        status: ran.status,
        started_at,
        system_state,
        login_seconds: login.as_secs_f64(),
        create_seconds,
        session_seconds: session.elapsed().as_secs_f64(),
    })
}

/// "1764770000.123456789" -> (seconds, nanoseconds).
fn parse_stamp(text: &str) -> anyhow::Result<(i64, i64)> {
    use anyhow::Context;
    let (s, ns) = text
        .split_once('.')
        .with_context(|| format!("{text:?} is not SECONDS.NANOSECONDS"))?;
    Ok((s.parse()?, ns.parse()?))
}

/// mkrescue (with restore-tui beside it, where create looks for it) into /usr/local/sbin,
/// and corpora of hard cases (xattrs, ACLs, hard links, sparse files, devices...) into
/// /home/corpus and /srv/corpus of the image.
fn add_tools_and_corpora(
    machine: &Machine,
    image: &Path,
    mkrescue: &Path,
    restore_tui: &Path,
    mnt: &Path,
) {
    let _lock = host_lock();
    let disk = LoopDisk::attach(image);
    let mut mounts = Mounts::new();
    for mp in ["/", "/home", "/srv"] {
        let v = machine.volume(mp).unwrap();
        let at = mnt.join(mp.trim_start_matches('/'));
        mounts.mount(&disk.partition_path(v.number), &at, None);
    }
    let sbin = mnt.join("usr/local/sbin");
    for (bin, name) in [(mkrescue, "mkrescue"), (restore_tui, "restore-tui")] {
        let to = sbin.join(name);
        fs::copy(bin, &to).unwrap();
        fs::set_permissions(&to, fs::Permissions::from_mode(0o755)).unwrap();
    }
    for (seed, dir) in [(1, "home/corpus"), (2, "srv/corpus")] {
        let at = mnt.join(dir);
        fs::create_dir_all(&at).unwrap();
        let opts = corpus::Options {
            seed,
            ..corpus::Options::default()
        };
        corpus::generate(&at, &opts).unwrap();
    }
    run(&mut command("sync"));
    drop(mounts);
    drop(disk);
    fs::remove_dir(mnt).unwrap();
}

#[test]
fn mkrescue_create_runs_inside_the_running_machine() {
    if !required() {
        return;
    }
    let machine = debian::machine().expect("the Debian machine");
    let c = created(&machine);
    eprintln!(
        "create session: login prompt after {:.0} s, create {:.0} s, whole session {:.0} s",
        c.run.login_seconds, c.run.create_seconds, c.run.session_seconds
    );
    eprintln!("mkrescue create's output:\n{}", c.log());
    assert_eq!(c.run.system_state, "running");
    c.assert_succeeded();
    assert!(c.media().join("rescue-1.iso").is_file(), "{}", c.log());
}

/// `mkrescue rehearse` of the media under `firmware`, then the restored disks booted alone
/// to a logged-in shell where systemd says `running`, then each filesystem compared.
fn rehearse_boot_and_compare(firmware: Firmware) {
    if !required() {
        return;
    }
    let machine = debian::machine().expect("the Debian machine");
    let c = created(&machine);
    c.assert_succeeded();
    let work = scratch();
    let kept = work.path().join("kept");
    let report_path = work.path().join("report.json");
    let started = Instant::now();
    let rehearsal = output(
        Command::new(mkrescue_bin().unwrap())
            .arg("rehearse")
            .arg("--media")
            .arg(c.media())
            .args(["--firmware", firmware.name()])
            .args(["--boot-check", "--boot-check-expect", "login:"])
            // The machine shows its login prompt after 30-60 s under TCG.
            .args(["--boot-check-timeout", "240"])
            .arg("--keep")
            .arg(&kept)
            .arg("--report")
            .arg(&report_path),
    );
    let rehearse_time = started.elapsed();
    let text = rehearsal.report();
    if !rehearsal.success() {
        let kept_at = keep_artifacts(&[
            &kept.join("rescue/serial.log"),
            &kept.join("boot-check/serial.log"),
            &report_path,
        ]);
        panic!(
            "mkrescue rehearse --firmware {} failed after {} (serial logs and report in \
             {kept_at}):\n{text}",
            firmware.name(),
            secs(rehearse_time)
        );
    }
    let report: Value = serde_json::from_str(&fs::read_to_string(&report_path).unwrap()).unwrap();
    assert_eq!(report["ok"], true, "{text}");
    assert_eq!(
        report["verify"]["differences"],
        serde_json::json!([]),
        "{text}"
    );
    let disks: Vec<PathBuf> = report["disks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| PathBuf::from(d["image"].as_str().unwrap()))
        .collect();

    let started = Instant::now();
    let dir = work.path().join("restored-vm");
    let (guest, login, state) =
        boot_and_log_in(firmware, disks.clone(), &dir).unwrap_or_else(|e| {
            let kept_at = keep_artifacts(&[&dir.join("serial.log")]);
            panic!("the restored disks booted alone: {e:#}\n(serial log in {kept_at})")
        });
    assert_eq!(
        state,
        "running",
        "the restored system under {}",
        firmware.name()
    );
    guest.power_off(Duration::from_secs(120)).unwrap();
    let restored_boot = started.elapsed();

    let started = Instant::now();
    let compared = compare_filesystems(&machine, &c, &disks[0], work.path());
    eprintln!(
        "{}: rehearsal {}, restored system: login prompt after {}, running and powered off \
         after {}; comparison {}",
        firmware.name(),
        secs(rehearse_time),
        secs(login),
        secs(restored_boot),
        secs(started.elapsed())
    );
    compared.assert_equal();
}

#[test]
fn rehearsed_under_ovmf_the_restored_system_runs_and_equals_the_source() {
    rehearse_boot_and_compare(Firmware::Uefi);
}

#[test]
fn rehearsed_under_seabios_the_restored_system_runs_and_equals_the_source() {
    rehearse_boot_and_compare(Firmware::Bios);
}

/// Every filesystem's differences, sorted.
#[derive(Debug, Default)]
struct Compared {
    /// (mount point, its differences)
    filesystems: Vec<(String, Sorted)>,
}

impl Compared {
    /// Nothing but what the running systems wrote and the restore made on purpose. What
    /// was set aside is printed; the failure message names every other difference, the
    /// ones under mount points apart.
    fn assert_equal(&self) {
        let list = |title: &str, v: &[corpus::Difference], text: &mut String| {
            if !v.is_empty() {
                text.push_str(&format!("  {title}:\n"));
                for d in v {
                    text.push_str(&format!("    {d}\n"));
                }
            }
        };
        let (mut set_aside, mut failures) = (String::new(), String::new());
        for (mp, s) in &self.filesystems {
            let counts = format!(
                "{mp}: {} written by the running systems, {} made by the restore, {} under \
                 mount points, {} other\n",
                s.live.len(),
                s.by_restore.len(),
                s.under_mounts.len(),
                s.real.len()
            );
            set_aside.push_str(&counts);
            list("written by the running systems", &s.live, &mut set_aside);
            // grub-install's hundreds of modules: counted by reason, with an example.
            let mut reasons: Vec<(String, usize, String)> = Vec::new();
            for d in &s.by_restore {
                let why = d.what.rsplit_once(" (").map_or("", |(_, w)| w);
                match reasons.iter_mut().find(|(w, _, _)| w == why) {
                    Some((_, n, _)) => *n += 1,
                    None => reasons.push((why.to_string(), 1, d.path.clone())),
                }
            }
            for (why, n, example) in reasons {
                set_aside.push_str(&format!(
                    "  made by the restore ({why}: {n}, e.g. {example:?}\n"
                ));
            }
            if !s.under_mounts.is_empty() || !s.real.is_empty() {
                failures.push_str(&counts);
                list(
                    "under mount points of the running source (hidden from the backup by \
                     what was mounted there)",
                    &s.under_mounts,
                    &mut failures,
                );
                list("not restored as they were", &s.real, &mut failures);
            }
        }
        eprintln!("{set_aside}");
        assert!(
            failures.is_empty(),
            "the restored filesystems differ from the source's:\n{failures}"
        );
    }
}

/// Each filesystem of the source image and of the restored disk image, mounted alone and
/// read-only, compared entry by entry; the ESP (FAT, which this host may not mount) is
/// read with mtools.
fn compare_filesystems(machine: &Machine, c: &Created, restored: &Path, work: &Path) -> Compared {
    let _lock = host_lock();
    let source = LoopDisk::attach(&c.source_image());
    let copy = LoopDisk::attach(restored);
    let mountinfo = c.mountinfo();
    let mut mounts = Mounts::new();
    let mut mounted = Vec::new();
    for v in &machine.facts().volumes {
        let opts = match v.fs_type.as_str() {
            // Read-only without replaying a journal; xfs also without its UUID check (the
            // two have one UUID).
            "xfs" => "ro,norecovery,nouuid",
            "ext4" => "ro,noload",
            _ => continue,
        };
        let name = if v.mount_point == "/" {
            "root".to_string()
        } else {
            v.mount_point.trim_start_matches('/').replace('/', "-")
        };
        let (a, b) = (work.join("a").join(&name), work.join("b").join(&name));
        mounts.mount(&source.partition_path(v.number), &a, Some(opts));
        mounts.mount(&copy.partition_path(v.number), &b, Some(opts));
        mounted.push((v.mount_point.clone(), a, b));
    }
    let root_copy = &mounted
        .iter()
        .find(|(mp, _, _)| mp == "/")
        .expect("/ is mounted")
        .2;
    let log = root_copy.join("var/log/restore-tui.log");
    let meta = fs::symlink_metadata(&log)
        .unwrap_or_else(|e| panic!("the restored root has no restore log ({e})"));
    let marks = Marks {
        source: c.run.started_at,
        copy: (meta.ctime(), meta.ctime_nsec()),
    };
    let mut compared = Compared::default();
    for (mp, a, b) in &mounted {
        let diffs = corpus::compare(a, b).unwrap();
        let below = tree_diff::mount_points_below(&mountinfo, mp);
        let trees = Trees { source: a, copy: b };
        let by_restore = if mp == "/" {
            tree_diff::ON_ROOT_BY_THE_RESTORE
        } else {
            &[]
        };
        let sorted = tree_diff::sort(diffs, &trees, marks, &below, by_restore);
        compared.filesystems.push((mp.clone(), sorted));
    }
    let esp = machine.volume("/boot/efi").expect("an ESP");
    let (a, b) = (work.join("esp-a"), work.join("esp-b"));
    for (disk, to) in [(&source, &a), (&copy, &b)] {
        fs::create_dir_all(to).unwrap();
        run(command("mcopy")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-s", "-m", "-n", "-i"])
            .arg(disk.partition_path(esp.number))
            .arg("::/")
            .arg(to));
    }
    // mtools gives every file the same owner and mode: names, times and content count.
    let diffs = corpus::compare(&a, &b).unwrap();
    let sorted = tree_diff::sort(
        diffs,
        &tree_diff::Unknown,
        marks,
        &[],
        tree_diff::ON_ESP_BY_THE_RESTORE,
    );
    compared.filesystems.push(("/boot/efi".into(), sorted));
    drop(mounts);
    compared
}
