//! restore-tui as /init, run as an ordinary process with the hidden `--init` flag against a
//! miniature rescue system: /proc/cmdline, /sys/class/block, /dev (an ISO image made by
//! xorriso standing in for /dev/sr0), /lib/modules and /etc/rescue under a temp dir.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RELEASE: &str = "6.1.0-test";

const MOUNTLIST: &str = r#"{
  "version": 1,
  "host": {"hostname": "web1", "root": "/", "kernel_release": "6.1.0-28-cloud-amd64",
           "captured_at": 1763700000},
  "boot": {"mode": "bios"},
  "disks": [{
    "path": "/dev/vda", "sectors": 2097152, "logical_sector_size": 512,
    "physical_sector_size": 512, "table": {"type": "none"},
    "filesystem": {"type": "ext4", "uuid": "0a0b0c0d-0000-4000-8000-000000000001",
                   "mount_point": "/"}
  }]
}"#;

const MANIFEST: &str = r#"{"version": 1, "backup_id": "TEST1234", "label": "RESCUE_TEST1234_1", "volume": 1,
  "volumes": 1, "created": 1763700000, "tool_version": "0.1.0", "hostname": "web1",
  "kernel_release": "6.1.0-28-cloud-amd64"}"#;

/// Whether xorriso is here; without it the media tests are skipped (a failure under CI).
fn have_xorriso() -> bool {
    let ok = Command::new("xorriso")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "xorriso is missing (scripts/setup installs it)"
        );
        eprintln!("skipped: xorriso is not installed (scripts/setup installs it)");
    }
    ok
}

/// An ISO 9660 image with Rock Ridge names, as mkrescue writes them.
fn make_iso(dest: &Path, label: &str, files: &[(&str, &str)]) {
    let files: Vec<(&str, &[u8])> = files.iter().map(|(p, t)| (*p, t.as_bytes())).collect();
    make_iso_of_bytes(dest, label, &files);
}

fn make_iso_of_bytes(dest: &Path, label: &str, files: &[(&str, &[u8])]) {
    let tree = tempfile::tempdir().unwrap();
    for (path, bytes) in files {
        let p = tree.path().join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes).unwrap();
    }
    succeeds(
        Command::new("xorriso")
            .args(["-as", "mkisofs", "-R", "-J", "-V", label, "-o"])
            .arg(dest)
            .arg(tree.path()),
    );
}

/// Runs a tool that must succeed (its stderr in the failure).
fn succeeds(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The miniature rescue system: two disks (vda with a partition, vdb with model and
/// serial), an optical drive, an unattached loop device; modules.dep with a module whose
/// file is missing, one whose dependency is missing and one built in; tools.json and the
/// mountlist copy.
fn rescue_root(cmdline: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    fs::create_dir_all(r.join("proc")).unwrap();
    fs::write(r.join("proc/cmdline"), format!("{cmdline}\n")).unwrap();

    let class = r.join("sys/class/block");
    fs::create_dir_all(&class).unwrap();
    for (name, sectors) in [
        ("sr0", 1000u64),
        ("vda", 41_943_040),
        ("vdb", 2_097_152),
        ("loop0", 0),
    ] {
        let dir = r.join("sys/devices/pci0000:00/block").join(name);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("size"), format!("{sectors}\n")).unwrap();
        fs::write(dir.join("dev"), "1:1\n").unwrap();
        symlink(&dir, class.join(name)).unwrap();
    }
    let vda1 = r.join("sys/devices/pci0000:00/block/vda/vda1");
    fs::create_dir_all(&vda1).unwrap();
    fs::write(vda1.join("partition"), "1\n").unwrap();
    fs::write(vda1.join("size"), "2048\n").unwrap();
    symlink(&vda1, class.join("vda1")).unwrap();
    let vdb = r.join("sys/devices/pci0000:00/block/vdb");
    fs::create_dir_all(vdb.join("device")).unwrap();
    fs::write(vdb.join("device/model"), "QEMU HARDDISK\n").unwrap();
    fs::write(vdb.join("serial"), "disk-b\n").unwrap();

    fs::create_dir_all(r.join("dev")).unwrap();
    fs::write(r.join("dev/vda"), vec![0u8; 64 << 10]).unwrap();

    let modules = r.join("lib/modules").join(RELEASE);
    fs::create_dir_all(modules.join("kernel/drivers/cdrom")).unwrap();
    fs::create_dir_all(modules.join("kernel/fs/isofs")).unwrap();
    fs::create_dir_all(modules.join("kernel/fs/fat")).unwrap();
    fs::write(modules.join("kernel/fs/fat/vfat.ko"), "ko").unwrap();
    fs::write(modules.join("kernel/drivers/cdrom/cdrom.ko"), "ko").unwrap();
    fs::write(modules.join("kernel/fs/isofs/isofs.ko"), "ko").unwrap();
    fs::write(
        modules.join("modules.dep"),
        "kernel/drivers/scsi/sr_mod.ko: kernel/drivers/cdrom/cdrom.ko\n\
         kernel/fs/isofs/isofs.ko:\n\
         kernel/drivers/cdrom/cdrom.ko:\n\
         kernel/fs/fat/vfat.ko: kernel/fs/fat/fat.ko\n\
         kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko\n",
    )
    .unwrap();
    fs::write(modules.join("modules.builtin"), "kernel/fs/ext4/ext4.ko\n").unwrap();

    fs::create_dir_all(r.join("etc/rescue")).unwrap();
    fs::write(
        r.join("etc/rescue/tools.json"),
        r#"{"available": {"mkfs.ext4": "/usr/sbin/mkfs.ext4"}, "missing": ["mkfs.btrfs"]}"#,
    )
    .unwrap();
    fs::write(r.join("etc/rescue/mountlist.json"), MOUNTLIST).unwrap();
    root
}

/// Runs `restore-tui --init` on the root with `input` on stdin; returns stdout and the
/// exit code. Killed after a minute: PID 1 code that hangs must fail the test.
fn run_init(root: &Path, input: &str) -> (String, i32) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_restore-tui"))
        .arg("--init")
        .arg("--root-dir")
        .arg(root)
        .args(["--kernel-release", RELEASE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("restore-tui --init did not end within a minute");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = reader.join().unwrap();
    (out, status.code().expect("ended by a signal"))
}

/// Asserts that `lines` appear in `out` as whole lines, in this order.
fn assert_lines_in_order(out: &str, lines: &[&str]) {
    let all: Vec<&str> = out.lines().collect();
    let mut at = 0;
    for want in lines {
        match all[at..].iter().position(|l| l == want) {
            Some(i) => at += i + 1,
            None => panic!("line {want:?} missing (or out of order) in:\n{out}"),
        }
    }
}

#[test]
fn boots_to_the_ready_line_shows_the_status_and_powers_off() {
    if !have_xorriso() {
        return;
    }
    let root =
        rescue_root("console=ttyS0 rescue.label=RESCUE_TEST1234 rescue.wait=0 rescue.colour=blue");
    make_iso(
        &root.path().join("dev/sr0"),
        "RESCUE_TEST1234",
        &[
            ("rescue/manifest.json", MANIFEST),
            ("rescue/mountlist.json", MOUNTLIST),
        ],
    );
    let (out, code) = run_init(root.path(), "t\np\n");
    assert_eq!(code, 0, "{out}");
    assert_lines_in_order(
        &out,
        &[
            "restore-tui: warning: kernel command line: rescue.colour=blue: unknown option, ignored",
            "restore-tui: mode interactive, media label RESCUE_TEST1234",
            "restore-tui: warning: modules not in the rescue system: fat (needed by vfat)",
            "restore-tui: loaded 3 modules (1 failed: sr_mod: No such file or directory)",
            "restore-tui: found media RESCUE_TEST1234 on /dev/sr0",
            "restore-tui: test mode: reading /dev/sr0 directly, not mounting it",
            "restore-tui: backup TEST1234 of web1, made 2025-11-21 04:40 UTC, volume 1 of 1",
            "restore-tui: read the mountlist from the media (1 disk)",
            "restore-tui: restore tools: 1 available; \
             missing on the host when the media was made: mkfs.btrfs",
            "restore-tui: found 2 disks: /dev/vda 20G, /dev/vdb 1G",
            "restore-tui: ready (media RESCUE_TEST1234 on /dev/sr0, 2 disks)",
            "Backup    TEST1234 of web1, made 2025-11-21 04:40 UTC",
            "Kernel    6.1.0-28-cloud-amd64",
            "Media     RESCUE_TEST1234 on /dev/sr0, volume 1 of 1",
            "Mode      interactive",
            "Missing   mkfs.btrfs (not on the host)",
            "Disks here:",
            "  /dev/vda  20G  -",
            "  /dev/vdb  1G  QEMU HARDDISK  serial disk-b",
            "Mountlist (from the media):",
            "/dev/vda  1G  none",
            "[i] restore  [s] shell  [r] reboot  [p] power off  [t] status",
            // "t" shows the status again.
            "Mountlist (from the media):",
            "[i] restore  [s] shell  [r] reboot  [p] power off  [t] status",
            "> restore-tui: power off",
        ],
    );
    assert!(out.contains("/dev/vda  1G  none"), "{out}");
    assert!(!out.contains("panic"), "{out}");
}

#[test]
fn without_media_it_says_why_and_uses_the_rescue_systems_mountlist() {
    let root = rescue_root("rescue.wait=0 rescue.mode=compare");
    let (out, code) = run_init(root.path(), "x\nr\n");
    assert_eq!(code, 0, "{out}");
    assert_lines_in_order(
        &out,
        &[
            "restore-tui: mode compare",
            "restore-tui: no media labelled RESCUE_* found after 0 s: \
             /dev/sr0: No such file or directory; /dev/vda: no ISO 9660; \
             /dev/vdb: No such file or directory; /dev/vda1: No such file or directory",
            "restore-tui: using the rescue system's copy of the mountlist, \
             /etc/rescue/mountlist.json (1 disk)",
            "restore-tui: ready (no media found, 2 disks)",
            "Backup    unknown (no media found)",
            "Media     none found",
            "Mode      compare",
            "Mountlist (/etc/rescue/mountlist.json, the rescue system's copy):",
            "> restore-tui: unknown choice \"x\"",
            "> restore-tui: reboot",
        ],
    );
}

#[test]
fn a_media_without_a_mountlist_falls_back_to_the_copy() {
    if !have_xorriso() {
        return;
    }
    let root = rescue_root("rescue.wait=0");
    // Found by its RESCUE_ prefix alone; the manifest names another label.
    make_iso(
        &root.path().join("dev/vdb"),
        "RESCUE_OTHER",
        &[("rescue/manifest.json", MANIFEST)],
    );
    let (out, code) = run_init(root.path(), "");
    assert_eq!(code, 0, "{out}");
    assert_lines_in_order(
        &out,
        &[
            "restore-tui: found media RESCUE_OTHER on /dev/vdb",
            "restore-tui: warning: the manifest is for RESCUE_TEST1234_1, the volume is labelled RESCUE_OTHER",
            "restore-tui: warning: the media has no /rescue/mountlist.json",
            "restore-tui: using the rescue system's copy of the mountlist, \
             /etc/rescue/mountlist.json (1 disk)",
            // The disk the media is on is no restore target.
            "restore-tui: found 1 disk: /dev/vda 20G",
            "restore-tui: ready (media RESCUE_OTHER on /dev/vdb, 1 disk)",
            "restore-tui: console input ended",
        ],
    );
}

#[test]
fn nuke_without_media_fails_and_powers_off() {
    let root = rescue_root("rescue.mode=nuke rescue.yes rescue.poweroff rescue.wait=0");
    let (out, code) = run_init(root.path(), "");
    assert_eq!(code, 0, "{out}");
    assert_lines_in_order(
        &out,
        &[
            "restore-tui: ready (no media found, 2 disks)",
            "Mode      nuke (rescue.yes rescue.poweroff)",
            "restore-tui: nuke finished: FAILED (no media found)",
            "restore-tui: power off",
        ],
    );
    assert!(
        !out.contains("[s] shell"),
        "no menu before powering off:\n{out}"
    );
    assert!(
        !out.contains("rehearsal-report"),
        "no rehearsal, no report:\n{out}"
    );
}

/// Where the qemu_fw_cfg module shows the item `mkrescue rehearse` passes with QEMU's
/// `-fw_cfg name=opt/mkrescue/cmdline,string=...`.
const FW_CFG_ITEM: &str = "sys/firmware/qemu_fw_cfg/by_name/opt/mkrescue/cmdline/raw";

/// A rehearsal's options come through QEMU's fw_cfg, after the kernel command line's: they
/// win (interactive becomes nuke), the console moves (test mode only says so), and the one
/// report line comes after the nuke's line and before the power off.
#[test]
fn options_from_the_host_make_a_rehearsal_nuke_that_reports() {
    let root = rescue_root("rescue.wait=0 rescue.mode=interactive rescue.colour=blue");
    let item = root.path().join(FW_CFG_ITEM);
    fs::create_dir_all(item.parent().unwrap()).unwrap();
    // As QEMU's string= gives it: a C string.
    fs::write(
        &item,
        "rescue.mode=nuke rescue.yes rescue.verify rescue.poweroff rescue.console=ttyS0 \
         rescue.disk-map=/dev/sda=/dev/vda\0",
    )
    .unwrap();
    let (out, code) = run_init(root.path(), "");
    assert_eq!(code, 0, "{out}");
    assert_lines_in_order(
        &out,
        &[
            "restore-tui: warning: kernel command line: rescue.colour=blue: unknown option, ignored",
            "restore-tui: mode interactive",
            "restore-tui: options from the host (QEMU fw_cfg): rescue.mode=nuke rescue.yes \
             rescue.verify rescue.poweroff rescue.console=ttyS0 rescue.disk-map=/dev/sda=/dev/vda",
            "restore-tui: mode nuke",
            "restore-tui: test mode: rescue.console=ttyS0: would put stdin, stdout and stderr \
             on /dev/ttyS0",
            "restore-tui: ready (no media found, 2 disks)",
            "Mode      nuke (rescue.yes rescue.verify rescue.poweroff)",
            "Disk map  /dev/sda=/dev/vda",
            "restore-tui: nuke finished: FAILED (no media found)",
            "restore-tui: verify: not run (the nuke failed)",
            "restore-tui: rehearsal-report {\"version\":1,\"backup_id\":\"\",\
             \"restore\":{\"ok\":false,\"seconds\":0.0,\"files\":0,\"bytes\":0,\"sets\":0,\
             \"problems\":[\"no media found\"]},\
             \"verify\":{\"ran\":false,\"ok\":false,\"seconds\":0.0,\"files\":0,\"bytes\":0,\
             \"differences\":[],\"expected\":[],\"more_differences\":0}}",
            "restore-tui: power off",
        ],
    );
    // The command line's warnings are said once, not again with the host's options.
    assert_eq!(out.matches("rescue.colour=blue").count(), 1, "{out}");
    assert_eq!(out.matches("rehearsal-report").count(), 1, "{out}");
}

/// An item that is there but cannot be read is a warning; the command line stands.
#[test]
fn an_unreadable_fw_cfg_item_is_a_warning() {
    let root = rescue_root("rescue.wait=0 rescue.mode=compare");
    fs::create_dir_all(root.path().join(FW_CFG_ITEM)).unwrap();
    let (out, code) = run_init(root.path(), "");
    assert_eq!(code, 0, "{out}");
    assert_lines_in_order(
        &out,
        &[
            "restore-tui: mode compare",
            "restore-tui: warning: reading the options from the host \
             (/sys/firmware/qemu_fw_cfg/by_name/opt/mkrescue/cmdline/raw): \
             Is a directory (os error 21)",
            "Mode      compare",
        ],
    );
    assert!(!out.contains("options from the host (QEMU"), "{out}");
}

/// In test mode the nuke is a dry run: the plan from the media's mountlist onto the disk
/// rescue.disk-map names, what would run, then the line rehearsals wait for and the menu.
#[test]
fn nuke_in_test_mode_is_a_dry_run_then_the_menu() {
    if !have_xorriso() {
        return;
    }
    let root = rescue_root(
        "rescue.mode=nuke rescue.yes rescue.wait=0 rescue.label=RESCUE_TEST1234 \
         rescue.disk-map=/dev/vda=/dev/xvdz",
    );
    // A target no host has, so that nothing of the host's is looked at.
    let dir = root.path().join("sys/devices/xen/block/xvdz");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("size"), "4194304\n").unwrap();
    symlink(&dir, root.path().join("sys/class/block/xvdz")).unwrap();
    make_iso(
        &root.path().join("dev/sr0"),
        "RESCUE_TEST1234",
        &[
            ("rescue/manifest.json", MANIFEST),
            ("rescue/mountlist.json", MOUNTLIST),
        ],
    );
    let (out, code) = run_init(root.path(), "");
    assert_eq!(code, 0, "{out}");
    let dev = root.path().join("dev/sr0");
    assert_lines_in_order(
        &out,
        &[
            "restore-tui: ready (media RESCUE_TEST1234 on /dev/sr0, 3 disks)",
            "Mode      nuke (rescue.yes)",
            &format!(
                "restore-tui: nuke: restoring from {} (test mode: a dry run)",
                dev.display()
            ),
            "dry run: nothing was written",
            "restore-tui: nuke finished: OK (test mode: a dry run, nothing was written)",
            "[i] restore  [s] shell  [r] reboot  [p] power off  [t] status",
            "restore-tui: console input ended",
        ],
    );
    assert!(
        out.contains("/dev/xvdz"),
        "the plan names the target:\n{out}"
    );
    assert!(
        out.contains("grub-install"),
        "the boot loader is reinstalled:\n{out}"
    );
}

#[test]
fn expert_mode_starts_a_shell_then_offers_the_menu() {
    let root = rescue_root("rescue.mode=expert rescue.wait=0");
    let (out, code) = run_init(root.path(), "echo shell-says-$((40 + 2))\n");
    assert_eq!(code, 0, "{out}");
    assert_lines_in_order(
        &out,
        &[
            "restore-tui: ready (no media found, 2 disks)",
            "restore-tui: expert mode: starting a shell; the menu follows when it ends",
            "shell-says-42",
            "restore-tui: shell ended (exit status 0)",
            "[i] restore  [s] shell  [r] reboot  [p] power off  [t] status",
            "restore-tui: console input ended",
        ],
    );
}

#[test]
fn the_menu_shell_reads_only_what_follows_the_choice() {
    let root = rescue_root("rescue.wait=0");
    let (out, code) = run_init(root.path(), "s\necho from-the-shell\n");
    assert_eq!(code, 0, "{out}");
    assert_lines_in_order(
        &out,
        &[
            "[i] restore  [s] shell  [r] reboot  [p] power off  [t] status",
            "> from-the-shell",
            "restore-tui: shell ended (exit status 0)",
            "restore-tui: console input ended",
        ],
    );
}

#[test]
fn init_options_are_hidden_and_checked() {
    let bin = env!("CARGO_BIN_EXE_restore-tui");
    let help = Command::new(bin).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        !text.contains("--init") && !text.contains("--root-dir"),
        "{text}"
    );
    let out = Command::new(bin)
        .args(["--root-dir", "/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--root-dir needs --init");
    let out = Command::new(bin)
        .args(["--init", "--mountlist", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The public part of RFC 8032's test key 1, as `openssl pkey -pubout` writes it.
const TRUSTED_KEY: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=
-----END PUBLIC KEY-----
";

/// [`MANIFEST`] signed with that key's private part by `openssl pkeyutl -sign -rawin`.
fn signature_of_manifest() -> Vec<u8> {
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("key.pem");
    fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\n\
         MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n\
         -----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let manifest = d.path().join("manifest.json");
    fs::write(&manifest, MANIFEST).unwrap();
    let sig = d.path().join("manifest.sig");
    succeeds(
        Command::new("openssl")
            .args(["pkeyutl", "-sign", "-rawin", "-inkey"])
            .arg(&key)
            .arg("-in")
            .arg(&manifest)
            .arg("-out")
            .arg(&sig),
    );
    fs::read(sig).unwrap()
}

/// `rescue.trusted-key`: the key named (here, where signed media put it), and the boot
/// media signed by it or not.
fn boot_with_trusted_key(signed: bool, mode: &str) -> String {
    let root = rescue_root(&format!(
        "rescue.trusted-key=/etc/rescue/trusted-key.pem rescue.wait=0 {mode}"
    ));
    fs::write(root.path().join("etc/rescue/trusted-key.pem"), TRUSTED_KEY).unwrap();
    let signature = signature_of_manifest();
    let mut files: Vec<(&str, &[u8])> = vec![
        ("rescue/manifest.json", MANIFEST.as_bytes()),
        ("rescue/mountlist.json", MOUNTLIST.as_bytes()),
    ];
    if signed {
        files.push(("rescue/manifest.sig", &signature));
    }
    make_iso_of_bytes(&root.path().join("dev/sr0"), "RESCUE_TEST1234", &files);
    let (out, code) = run_init(root.path(), "");
    assert_eq!(code, 0, "{out}");
    out
}

#[test]
fn with_rescue_trusted_key_signed_boot_media_are_read() {
    if !have_xorriso() {
        return;
    }
    let out = boot_with_trusted_key(true, "");
    assert_lines_in_order(
        &out,
        &[
            "restore-tui: only media signed by the key in /etc/rescue/trusted-key.pem are \
             accepted (d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a)",
            "restore-tui: found media RESCUE_TEST1234 on /dev/sr0",
            "restore-tui: read the mountlist from the media (1 disk)",
            "Signed    by the trusted key d75a980182b10ab7...",
        ],
    );
}

#[test]
fn with_rescue_trusted_key_unsigned_boot_media_are_refused_and_a_nuke_fails() {
    if !have_xorriso() {
        return;
    }
    let out = boot_with_trusted_key(false, "rescue.mode=nuke rescue.yes");
    let refused = "refused: its manifest is not signed (no /rescue/manifest.sig), and only \
                   media signed by the trusted key are accepted";
    assert!(
        out.lines()
            .any(|l| l.starts_with("Backup    unknown (") && l.contains(refused)),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("restore-tui: nuke finished: FAILED (") && l.contains(refused)),
        "{out}"
    );
    assert!(!out.contains("would run"), "{out}");
}
