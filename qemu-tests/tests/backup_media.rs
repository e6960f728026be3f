//! `mkrescue create` with a backup over several volumes: every volume within its size, the
//! hooks once per volume in order, and the files of all volumes together the source again.

use host_tests::{host_lock, mkfs, require_root_or_skip, LoopDisk, Mount};
use qemu_tests::{mkrescue_bin, mkrescue_create, require_qemu};
use rescue_core::archive::{Extractor, TarReader};
use rescue_core::media::Manifest;
use std::fs;
use std::process::Command;

const MIB: u64 = 1 << 20;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_three_volume_backup_holds_the_source_and_calls_the_hooks_in_order() {
    if !require_qemu() || !require_root_or_skip() {
        return;
    }
    let _lock = host_lock();
    let disk = LoopDisk::new(256 * MIB);
    mkfs("ext4", disk.device(), &["-q"]);
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    let _mount = Mount::new(disk.device(), &root, None);
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join("etc/hostname"), "multi\n").unwrap();
    let data = root.join("data");
    fs::create_dir(&data).unwrap();
    corpus::generate(
        &data,
        &corpus::Options {
            bulk_bytes: 16 * MIB,
            big_file: Some(6 * MIB),
            seed: 3,
        },
    )
    .unwrap();

    let out = work.path().join("out");
    let log = work.path().join("hooks.log");
    let summary = run(mkrescue_create(&mkrescue_bin().unwrap(), &root, &out)
        .args(["--json", "-s", "48m,4m"])
        .arg("--before-volume")
        .arg(format!(
            "echo before {{volume}} {{iso}} >> {}",
            log.display()
        ))
        .arg("--after-volume")
        .arg(format!("echo after _CD#_ _ISO_ >> {}", log.display())));
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    let volumes = summary["volumes"].as_array().unwrap();
    assert!(volumes.len() >= 3, "{} volumes", volumes.len());

    // Every volume within its size; the hooks once per volume, in order.
    let mut expected_log = String::new();
    for (i, v) in volumes.iter().enumerate() {
        let n = i + 1;
        let path = out.join(format!("rescue-{n}.iso"));
        assert_eq!(v["path"].as_str().unwrap(), path.to_str().unwrap());
        let size = fs::metadata(&path).unwrap().len();
        let limit = if n == 1 { 48 * MIB } else { 4 * MIB };
        assert!(size <= limit, "volume {n} is {size} bytes, over {limit}");
        expected_log.push_str(&format!(
            "before {n} {}\nafter {n} {}\n",
            path.display(),
            path.display()
        ));
    }
    assert_eq!(fs::read_to_string(&log).unwrap(), expected_log);

    // The sets of all volumes, in order, extract to the source.
    let restored = work.path().join("restored");
    fs::create_dir(&restored).unwrap();
    let mut x = Extractor::new(&restored).unwrap();
    let mut next_set = 1;
    for n in 1..=volumes.len() {
        let dir = work.path().join(format!("vol{n}"));
        run(Command::new("xorriso")
            .args(["-osirrox", "on", "-indev"])
            .arg(out.join(format!("rescue-{n}.iso")))
            .args(["-extract", "/"])
            .arg(&dir));
        let manifest: Manifest =
            serde_json::from_slice(&fs::read(dir.join("rescue/manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest.volume, n as u32);
        assert_eq!(manifest.label, format!("RESCUE_{}_{n}", manifest.backup_id));
        if n == 1 {
            assert!(dir.join("rescue/catalog.zst").exists());
            assert!(dir.join("boot/vmlinuz").exists());
        }
        for set in &manifest.sets {
            assert_eq!(
                set.number, next_set,
                "sets follow each other across volumes"
            );
            next_set += 1;
            let file = fs::File::open(dir.join(&set.file)).unwrap();
            let mut reader = TarReader::new(zstd::stream::read::Decoder::new(file).unwrap());
            while let Some((meta, mut entry)) = reader.next_entry().unwrap() {
                x.extract(&meta, &mut entry)
                    .unwrap_or_else(|e| panic!("{}: {e}", meta.display_path()));
            }
        }
    }
    let errors = x.finish();
    assert!(errors.is_empty(), "{errors:?}");
    let diffs = corpus::compare(&root, &restored).unwrap();
    assert!(diffs.is_empty(), "{diffs:#?}");
}
