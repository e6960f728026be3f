//! `mkrescue mountlist` end to end without root: a disk image made with real sfdisk and
//! mkfs stands in for a disk, and small /proc and /sys trees describe it as the kernel would.

use serde_json::Value;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DISK: &str = "fakedisk";
const MAJOR: u32 = 259;
const MIB: u64 = 1 << 20;

fn tools_present(tools: &[&str]) -> bool {
    let missing: Vec<&&str> = tools
        .iter()
        .filter(|t| {
            !["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
                .iter()
                .any(|d| Path::new(d).join(t).exists())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI must have {missing:?} (scripts/setup installs them)"
    );
    eprintln!("skipped: tools missing: {missing:?} (run scripts/setup)");
    false
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

struct Fake {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    proc_dir: PathBuf,
    sys: PathBuf,
    dev: PathBuf,
    swap_uuid: String,
    root_uuid: String,
}

/// A GPT disk of 64 MiB: partition 1 ext4 "rootfs" (mounted at the root), 2 swap "sw".
fn build() -> Fake {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().to_path_buf();
    let (root, proc_dir, sys, dev) = (
        base.join("root"),
        base.join("proc"),
        base.join("sys"),
        base.join("dev"),
    );
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&dev).unwrap();
    let image = dev.join(DISK);
    fs::File::create(&image).unwrap().set_len(64 * MIB).unwrap();
    let script = "label: gpt\nstart=2048, size=65536, type=linux, name=\"root part\"\n\
                  start=67584, size=32768, type=swap\n";
    let mut child = Command::new("sfdisk")
        .arg("--quiet")
        .arg(&image)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());

    let part = |name: &str, sectors: u64| {
        let p = base.join(name);
        fs::File::create(&p)
            .unwrap()
            .set_len(sectors * 512)
            .unwrap();
        p
    };
    let ext = part("p1.img", 65536);
    run(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", "rootfs"])
        .arg(&ext));
    let swap = part("p2.img", 32768);
    run(Command::new("mkswap").args(["-L", "sw"]).arg(&swap));
    for (img, seek) in [(&ext, 2048u64), (&swap, 67584)] {
        run(Command::new("dd")
            .arg(format!("if={}", img.display()))
            .arg(format!("of={}", image.display()))
            .args(["bs=512", "conv=notrunc,sparse", "status=none"])
            .arg(format!("seek={seek}")));
    }
    let uuid_of = |img: &Path| {
        let out = run(Command::new("blkid")
            .args(["-p", "-s", "UUID", "-o", "value"])
            .arg(img));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let root_uuid = uuid_of(&ext);
    let swap_uuid = uuid_of(&swap);

    // /sys as the kernel lays it out: a disk directory with partition subdirectories.
    let disk_dir = sys.join("devices/virtual/block").join(DISK);
    write(&disk_dir.join("dev"), &format!("{MAJOR}:0\n"));
    write(&disk_dir.join("size"), &format!("{}\n", 64 * MIB / 512));
    write(&disk_dir.join("uevent"), &format!("DEVNAME={DISK}\n"));
    write(&disk_dir.join("queue/logical_block_size"), "512\n");
    write(&disk_dir.join("queue/physical_block_size"), "512\n");
    write(&disk_dir.join("device/model"), "Fake Disk 64M\n");
    fs::create_dir_all(sys.join("dev/block")).unwrap();
    fs::create_dir_all(sys.join("class/block")).unwrap();
    symlink(&disk_dir, sys.join(format!("dev/block/{MAJOR}:0"))).unwrap();
    symlink(&disk_dir, sys.join("class/block").join(DISK)).unwrap();
    for (n, start, size) in [(1u32, 2048u64, 65536u64), (2, 67584, 32768)] {
        let name = format!("{DISK}{n}");
        let pdir = disk_dir.join(&name);
        write(&pdir.join("partition"), &format!("{n}\n"));
        write(&pdir.join("start"), &format!("{start}\n"));
        write(&pdir.join("size"), &format!("{size}\n"));
        write(&pdir.join("dev"), &format!("{MAJOR}:{n}\n"));
        symlink(&pdir, sys.join(format!("dev/block/{MAJOR}:{n}"))).unwrap();
        symlink(&pdir, sys.join("class/block").join(&name)).unwrap();
    }

    let root = fs::canonicalize(&root).unwrap();
    write(
        &proc_dir.join("self/mountinfo"),
        &format!(
            "1 0 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
             30 1 {MAJOR}:1 / {} rw,relatime shared:5 - ext4 /dev/{DISK}1 rw,errors=remount-ro\n\
             31 30 0:50 / {}/tmp rw - tmpfs tmpfs rw\n",
            root.display(),
            root.display()
        ),
    );
    write(&proc_dir.join("sys/kernel/osrelease"), "6.1.0-test\n");
    write(&root.join("etc/hostname"), "fakehost\n");
    write(
        &root.join("etc/fstab"),
        &format!(
            "# test system\nLABEL=rootfs / ext4 errors=remount-ro 0 1\n\
             UUID={swap_uuid} none swap sw 0 0\n\
             UUID=0000dead-0000-4000-8000-000000000000 /data ext4 defaults 0 2\n\
             tmpfs /tmp tmpfs defaults 0 0\n"
        ),
    );
    Fake {
        _tmp: tmp,
        root,
        proc_dir,
        sys,
        dev,
        swap_uuid,
        root_uuid,
    }
}

fn mkrescue(fake: &Fake, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mkrescue"))
        .arg("mountlist")
        .arg("--root")
        .arg(&fake.root)
        .arg("--procfs")
        .arg(&fake.proc_dir)
        .arg("--sysfs")
        .arg(&fake.sys)
        .arg("--devfs")
        .arg(&fake.dev)
        .args(extra)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap()
}

const TOOLS: &[&str] = &["sfdisk", "mkfs.ext4", "mkswap", "blkid", "dd"];

#[test]
fn captures_a_gpt_disk_from_its_sysfs_and_images() {
    if !tools_present(TOOLS) {
        return;
    }
    let fake = build();
    let out = mkrescue(&fake, &["--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let ml: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ml["version"], 1);
    assert_eq!(ml["host"]["hostname"], "fakehost");
    assert_eq!(ml["host"]["kernel_release"], "6.1.0-test");
    assert_eq!(ml["host"]["captured_at"], 1700000000);
    assert_eq!(ml["boot"]["mode"], "bios");

    let disk = &ml["disks"][0];
    assert_eq!(ml["disks"].as_array().unwrap().len(), 1);
    assert_eq!(disk["path"], format!("/dev/{DISK}"));
    assert_eq!(disk["sectors"], 64 * MIB / 512);
    assert_eq!(disk["model"], "Fake Disk 64M");
    assert_eq!(disk["table"]["type"], "gpt");

    let p1 = &disk["partitions"][0];
    assert_eq!(p1["path"], format!("/dev/{DISK}1"));
    assert_eq!(
        (p1["start"].as_u64(), p1["size"].as_u64()),
        (Some(2048), Some(65536))
    );
    assert_eq!(p1["gpt"]["name"], "root part");
    let fs1 = &p1["filesystem"];
    assert_eq!(fs1["type"], "ext4");
    assert_eq!(fs1["label"], "rootfs");
    assert_eq!(fs1["uuid"], fake.root_uuid.as_str());
    assert_eq!(fs1["mount_point"], "/");
    assert_eq!(fs1["mount_options"], "rw,relatime,errors=remount-ro");
    assert_eq!(fs1["fstab"]["kind"], "label");
    assert_eq!(fs1["fstab"]["pass"], 1);
    // The miniature mountinfo names a directory of the host, which is another filesystem
    // than the image's: its usage is not taken for the image's.
    assert!(fs1["used_bytes"].is_null(), "{fs1}");

    let fs2 = &disk["partitions"][1]["filesystem"];
    assert_eq!(fs2["type"], "swap");
    assert_eq!(fs2["label"], "sw");
    assert_eq!(fs2["uuid"], fake.swap_uuid.as_str());
    assert_eq!(fs2["fstab"]["kind"], "uuid");
    assert!(fs2.get("mount_point").is_none());

    // The fstab line for /data names nothing that exists: warned about, in JSON and stderr.
    let warnings = ml["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].as_str().unwrap().contains("/data"));
    assert!(stderr.contains("warning: fstab line 4"), "{stderr}");
}

#[test]
fn the_table_shows_the_same_layout() {
    if !tools_present(TOOLS) {
        return;
    }
    let fake = build();
    let out = mkrescue(&fake, &[]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Host: fakehost (kernel 6.1.0-test)"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.contains(&format!("/dev/{DISK}1 ")))
        .unwrap();
    for cell in ["2048", "65536", "32M", "ext4", "rootfs", "LABEL=rootfs /"] {
        assert!(row.contains(cell), "{cell:?} missing from {row:?}");
    }
}

#[test]
fn a_vanished_device_is_a_clear_error() {
    if !tools_present(TOOLS) {
        return;
    }
    let fake = build();
    // The kernel still lists the mount, but the device is gone from /sys and /dev.
    fs::remove_file(fake.sys.join(format!("dev/block/{MAJOR}:1"))).unwrap();
    let out = mkrescue(&fake, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("{MAJOR}:1")), "{stderr}");
    assert!(stderr.contains("removed"), "{stderr}");
    assert!(!stderr.contains("panicked"));

    let fake = build();
    fs::remove_file(fake.dev.join(DISK)).unwrap();
    let out = mkrescue(&fake, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("it may have been removed"), "{stderr}");
}

#[test]
fn a_saved_mountlist_can_be_mapped_onto_another_disk() {
    if !tools_present(TOOLS) {
        return;
    }
    let fake = build();
    let saved = fake.root.join("ml.json");
    let out = mkrescue(&fake, &["--output", saved.to_str().unwrap()]);
    assert!(out.status.success());

    let check = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_mkrescue"))
            .args(["mountlist", "--json", "--input"])
            .arg(&saved)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = check(&["--disk-map", &format!("/dev/{DISK}=/dev/vdb:128m")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ml: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ml["disks"][0]["path"], "/dev/vdb");
    assert_eq!(ml["disks"][0]["partitions"][1]["path"], "/dev/vdb2");
    assert_eq!(ml["disks"][0]["sectors"], 128 * MIB / 512);

    let out = check(&["--disk-map", &format!("/dev/{DISK}=/dev/vdb:8m")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("/dev/{DISK}1")), "{stderr}");
    assert!(stderr.contains("short"), "{stderr}");
}
