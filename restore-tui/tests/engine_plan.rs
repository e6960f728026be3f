//! The restore engine's plans, run with the recording Runner: the commands of a GPT+UEFI
//! and an MBR+BIOS nuke are what a sysadmin would type; a target too small is refused
//! with nothing run; a failing mkfs stops the steps and nothing after it runs; the
//! actions chosen per partition (format only, keep as is, untouched) change the commands.

use rescue_core::mountlist::resize::{FitError, ResizeMode, TargetDisk};
use rescue_core::mountlist::{from_json, Mountlist};
use rescue_core::runner::{DryRun, Recording, RunError};
use restore_tui::engine::action::PartitionAction;
use restore_tui::engine::apply::{apply, DryNative, Event, StepError};
use restore_tui::engine::plan::{plan_with, Choices, DiskMap, Plan, PlanError, Step};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

const ROOT_UUID: &str = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6";
const HOME_UUID: &str = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9";
const SWAP_UUID: &str = "aaaa0000-1111-4222-8333-444455556666";

/// A UEFI host: /dev/sda (20 GiB, GPT) with the ESP (vfat, /boot/efi), root (ext4,
/// labelled), /home (ext4) and swap. fstab names root by UUID, /home and swap by device.
fn gpt_uefi() -> Mountlist {
    let json = format!(
        r#"{{
  "version": 1,
  "host": {{"hostname": "web1", "root": "/", "kernel_release": "6.1.0-28-cloud-amd64",
           "captured_at": 1763700000}},
  "boot": {{"mode": "uefi", "esp": "/dev/sda1"}},
  "disks": [{{
    "path": "/dev/sda", "sectors": 41943040, "logical_sector_size": 512,
    "physical_sector_size": 512,
    "table": {{"type": "gpt", "disk_guid": "5b1d7a4e-2f0c-4d7e-9a51-0c3f2e8b9d11",
              "first_usable_lba": 2048, "last_usable_lba": 41943006}},
    "partitions": [
      {{"number": 1, "path": "/dev/sda1", "start": 2048, "size": 1048576,
        "gpt": {{"type_guid": "c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
                "unique_guid": "8e3c2b1a-7f6d-4c5e-9b8a-1d2c3b4a5f6e",
                "name": "EFI system partition", "attributes": 0}},
        "filesystem": {{"type": "vfat", "uuid": "1A2B-3C4D", "label": "ESP",
          "mount_point": "/boot/efi", "size_bytes": 536870912, "used_bytes": 6291456,
          "params": {{"sector_size": 512, "fat_bits": 32, "cluster_size": 4096}},
          "fstab": {{"spec": "PARTUUID=8e3c2b1a-7f6d-4c5e-9b8a-1d2c3b4a5f6e",
                    "kind": "partuuid", "mount_point": "/boot/efi", "fs_type": "vfat",
                    "options": "umask=0077", "dump": 0, "pass": 1}}}}}},
      {{"number": 2, "path": "/dev/sda2", "start": 1050624, "size": 31457280,
        "gpt": {{"type_guid": "4f68bce3-e8cd-4db1-96e7-fbcaf984b709",
                "unique_guid": "2f4e6d8c-0b1a-4c3e-8d5f-7a9b1c3e5d7f", "name": "root"}},
        "filesystem": {{"type": "ext4", "uuid": "{ROOT_UUID}", "label": "root",
          "mount_point": "/", "size_bytes": 16106127360, "used_bytes": 3221225472,
          "params": {{"block_size": 4096, "inode_size": 256,
                     "features": ["has_journal", "extent", "64bit", "metadata_csum"]}},
          "fstab": {{"spec": "UUID={ROOT_UUID}", "kind": "uuid", "mount_point": "/",
                    "fs_type": "ext4", "options": "errors=remount-ro", "pass": 1}}}}}},
      {{"number": 3, "path": "/dev/sda3", "start": 32507904, "size": 8388608,
        "gpt": {{"type_guid": "933ac7e1-2eb4-4f13-b844-0e14e2aef915",
                "unique_guid": "3a4b5c6d-7e8f-4a0b-9c1d-2e3f4a5b6c7d"}},
        "filesystem": {{"type": "ext4", "uuid": "{HOME_UUID}", "mount_point": "/home",
          "size_bytes": 4294967296, "used_bytes": 1073741824,
          "params": {{"block_size": 4096, "inode_size": 256}},
          "fstab": {{"spec": "/dev/sda3", "kind": "device", "mount_point": "/home",
                    "fs_type": "ext4", "options": "defaults", "pass": 2}}}}}},
      {{"number": 4, "path": "/dev/sda4", "start": 40896512, "size": 1044480,
        "gpt": {{"type_guid": "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f",
                "unique_guid": "4b5c6d7e-8f9a-4b1c-8d2e-3f4a5b6c7d8e"}},
        "filesystem": {{"type": "swap", "uuid": "{SWAP_UUID}", "label": "swap",
          "swap_active": true, "params": {{"block_size": 4096}},
          "fstab": {{"spec": "/dev/sda4", "kind": "device", "mount_point": "none",
                    "fs_type": "swap", "options": "sw"}}}}}}
    ]
  }}]
}}"#
    );
    from_json(&json).expect("the GPT fixture parses")
}

/// A BIOS host: /dev/sda (10 GiB, MBR 0x1234abcd) with a bootable primary ext2 /boot,
/// a primary ext4 /, an extended partition holding a logical ext4 /var and logical swap.
fn mbr_bios() -> Mountlist {
    let json = r#"{
  "version": 1,
  "host": {"hostname": "old1", "root": "/", "kernel_release": "5.10.0-30-amd64",
           "captured_at": 1763700000},
  "boot": {"mode": "bios"},
  "disks": [{
    "path": "/dev/sda", "sectors": 20971520, "logical_sector_size": 512,
    "physical_sector_size": 512, "table": {"type": "msdos", "signature": "0x1234abcd"},
    "partitions": [
      {"number": 1, "path": "/dev/sda1", "start": 2048, "size": 1048576,
       "mbr": {"type_id": "0x83", "bootable": true, "role": "primary"},
       "filesystem": {"type": "ext2", "uuid": "b0070000-0000-4000-8000-000000000001",
         "label": "boot", "mount_point": "/boot", "used_bytes": 104857600,
         "params": {"block_size": 1024, "inode_size": 128}}},
      {"number": 2, "path": "/dev/sda2", "start": 1050624, "size": 12582912,
       "mbr": {"type_id": "0x83", "role": "primary"},
       "filesystem": {"type": "ext4", "uuid": "b0070000-0000-4000-8000-000000000002",
         "mount_point": "/", "used_bytes": 2147483648,
         "params": {"block_size": 4096, "inode_size": 256}}},
      {"number": 3, "path": "/dev/sda3", "start": 13633536, "size": 7337984,
       "mbr": {"type_id": "0x05", "role": "extended"}},
      {"number": 5, "path": "/dev/sda5", "start": 13635584, "size": 6289408,
       "mbr": {"type_id": "0x83", "role": "logical"},
       "filesystem": {"type": "ext4", "uuid": "b0070000-0000-4000-8000-000000000005",
         "mount_point": "/var", "used_bytes": 536870912,
         "params": {"block_size": 4096, "inode_size": 256}}},
      {"number": 6, "path": "/dev/sda6", "start": 19927040, "size": 1044480,
       "mbr": {"type_id": "0x82", "role": "logical"},
       "filesystem": {"type": "swap", "uuid": "b0070000-0000-4000-8000-000000000006"}}
    ]
  }]
}"#;
    from_json(json).expect("the MBR fixture parses")
}

fn onto(ml: &Mountlist, target: &str, sectors: u64) -> Vec<DiskMap> {
    vec![DiskMap {
        from: ml.disks[0].path.clone(),
        to: TargetDisk {
            path: target.into(),
            sectors,
            logical_sector_size: 512,
        },
    }]
}

fn make_plan(ml: &Mountlist, maps: &[DiskMap], boot_loader: bool) -> Result<Plan, PlanError> {
    with_actions(ml, maps, boot_loader, &[])
}

fn with_actions(
    ml: &Mountlist,
    maps: &[DiskMap],
    boot_loader: bool,
    actions: &[(&str, PartitionAction)],
) -> Result<Plan, PlanError> {
    let choices = Choices {
        boot_loader,
        actions: actions
            .iter()
            .map(|(d, a)| (d.to_string(), *a))
            .collect::<BTreeMap<_, _>>(),
        ..Choices::default()
    };
    let mut n = 0;
    plan_with(ml, maps, ResizeMode::Proportional, &choices, &mut || {
        n += 1;
        Ok(format!("00000000-0000-4000-8000-{n:012}"))
    })
}

/// Runs the plan with a recording runner and a pretend native side.
fn run(plan: &Plan, runner: &Recording) -> (Result<(), String>, Vec<String>, Vec<String>) {
    let native = DryNative::silent();
    let mut started = Vec::new();
    let result = apply(plan, runner, &native, &mut |e| {
        if let Event::Start { step, .. } = e {
            started.push(step.description());
        }
    });
    (
        result.map(|_| ()).map_err(|e| e.to_string()),
        native.actions(),
        started,
    )
}

/// The plan onto /dev/vdb (`sectors` long) with `actions` chosen and no boot loader, run
/// with a recording runner; the run must succeed. Returns the plan, the commands run and
/// the native actions.
fn run_with_actions(
    ml: &Mountlist,
    sectors: u64,
    actions: &[(&str, PartitionAction)],
) -> (Plan, Vec<String>, Vec<String>) {
    let plan = with_actions(ml, &onto(ml, "/dev/vdb", sectors), false, actions).unwrap();
    let runner = Recording::new();
    let (result, native, _) = run(&plan, &runner);
    result.unwrap();
    (plan, runner.transcript(), native)
}

#[test]
fn gpt_uefi_nuke_is_what_a_sysadmin_would_type() {
    let ml = gpt_uefi();
    let plan = make_plan(&ml, &onto(&ml, "/dev/vdb", 41943040), true).unwrap();
    let runner = Recording::new();
    let (result, native, _) = run(&plan, &runner);
    result.unwrap();
    let features = "none,has_journal,extent,64bit,metadata_csum";
    assert_eq!(
        runner.transcript(),
        [
            "wipefs -a /dev/vdb".to_string(),
            "partx -d --nr 1:256 /dev/vdb".into(),
            "partx -a /dev/vdb".into(),
            "wipefs -a /dev/vdb1 /dev/vdb2 /dev/vdb3 /dev/vdb4".into(),
            "mkfs.vfat -i 1A2B3C4D -n ESP -F 32 -S 512 -s 8 /dev/vdb1".into(),
            "fatlabel /dev/vdb1 ESP".into(),
            format!("mkfs.ext4 -F -U {ROOT_UUID} -L root -b 4096 -I 256 -O {features} /dev/vdb2"),
            "e2label /dev/vdb2 root".into(),
            format!("mkfs.ext4 -F -U {HOME_UUID} -b 4096 -I 256 /dev/vdb3"),
            format!("mkswap -U {SWAP_UUID} -L swap /dev/vdb4"),
            "swaplabel -L swap /dev/vdb4".into(),
            "mkdir -p /mnt/restore".into(),
            "mount -t ext4 /dev/vdb2 /mnt/restore".into(),
            "mkdir -p /mnt/restore/home".into(),
            "mount -t ext4 /dev/vdb3 /mnt/restore/home".into(),
            "mkdir -p /mnt/restore/boot/efi".into(),
            "mount -t vfat /dev/vdb1 /mnt/restore/boot/efi".into(),
            "mkdir -p /mnt/restore/dev /mnt/restore/proc /mnt/restore/sys".into(),
            "mount --bind /dev /mnt/restore/dev".into(),
            "mount --bind /proc /mnt/restore/proc".into(),
            "mount --bind /sys /mnt/restore/sys".into(),
            "chroot /mnt/restore grub-install --target=x86_64-efi --efi-directory=/boot/efi \
             --removable"
                .into(),
            "umount /mnt/restore/sys".into(),
            "umount /mnt/restore/proc".into(),
            "umount /mnt/restore/dev".into(),
            "umount /mnt/restore/boot/efi".into(),
            "umount /mnt/restore/home".into(),
            "umount /mnt/restore".into(),
            "sync".into(),
        ]
    );
    assert_eq!(
        native[..4],
        [
            "write a GPT partition table (disk GUID 5b1d7a4e-2f0c-4d7e-9a51-0c3f2e8b9d11) \
             with 4 partitions on /dev/vdb",
            "wait for /dev/vdb1, /dev/vdb2, /dev/vdb3, /dev/vdb4",
            "restore the files into /mnt/restore",
            "rewrite /mnt/restore/etc/fstab: /dev/sda3 -> /dev/vdb3, /dev/sda4 -> /dev/vdb4, \
             /dev/sda -> /dev/vdb, /dev/sda1 -> /dev/vdb1, /dev/sda2 -> /dev/vdb2",
        ]
    );
    assert!(
        native[4].starts_with("write /mnt/restore/var/log/restore-tui.log ("),
        "{native:#?}"
    );
    assert_eq!(native.len(), 5);
    // The plan as the sysadmin reads it.
    let text = plan.to_string();
    for want in [
        "Restore of web1 (kernel 6.1.0-28-cloud-amd64, UEFI boot) onto:",
        "  /dev/sda (20G) -> /dev/vdb (20G), same size: the layout as it was",
        "EVERYTHING ON /dev/vdb IS ERASED.",
        "Partition the disks:\n  1. erase the partition table and signatures on /dev/vdb \
         (everything on it is lost)\n       $ wipefs -a /dev/vdb\n  2. make the kernel forget \
         the partitions /dev/vdb had\n       $ partx -d --nr 1:256 /dev/vdb\n  3. write a GPT \
         partition table (disk GUID 5b1d7a4e-2f0c-4d7e-9a51-0c3f2e8b9d11) with 4 partitions on \
         /dev/vdb\n",
        "       | label: gpt\n       | label-id: 5B1D7A4E-2F0C-4D7E-9A51-0C3F2E8B9D11\n",
        "       | /dev/vdb1 : start=2048, size=1048576, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, \
         uuid=8E3C2B1A-7F6D-4C5E-9B8A-1D2C3B4A5F6E, name=\"EFI system partition\"\n",
        "make an ext4 filesystem on /dev/vdb2 labelled root with UUID \
         0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6 (block size 4096, inode size 256)",
        "make a vfat filesystem on /dev/vdb1 labelled ESP with serial 1A2B-3C4D (FAT32)",
        "make swap space on /dev/vdb4 labelled swap with UUID",
        "mount /dev/vdb3 (ext4, /home) at /mnt/restore/home",
        "restore every file of the backup into /mnt/restore, checking each file against its BLAKE3",
        "rewrite /mnt/restore/etc/fstab where a device changed: /dev/sda3 -> /dev/vdb3, \
         /dev/sda4 -> /dev/vdb4; and any line naming a renamed disk or partition",
        "reinstall GRUB for UEFI into the EFI System Partition (/dev/vdb1 at /boot/efi), inside \
         the restored system",
        "write the restore log to /mnt/restore/var/log/restore-tui.log",
        "Unmount and flush:",
        "flush everything to the disks\n       $ sync\n",
    ] {
        assert!(text.contains(want), "the plan lacks {want:?}:\n{text}");
    }
}

#[test]
fn mbr_bios_nuke_is_what_a_sysadmin_would_type() {
    let ml = mbr_bios();
    let plan = make_plan(&ml, &onto(&ml, "/dev/vdb", 20971520), true).unwrap();
    let runner = Recording::new();
    let (result, native, _) = run(&plan, &runner);
    result.unwrap();
    assert_eq!(
        runner.transcript(),
        [
            "wipefs -a /dev/vdb",
            "partx -d --nr 1:256 /dev/vdb",
            "partx -a /dev/vdb",
            "wipefs -a /dev/vdb1 /dev/vdb2 /dev/vdb5 /dev/vdb6",
            "mkfs.ext2 -F -U b0070000-0000-4000-8000-000000000001 -L boot -b 1024 -I 128 /dev/vdb1",
            "e2label /dev/vdb1 boot",
            "mkfs.ext4 -F -U b0070000-0000-4000-8000-000000000002 -b 4096 -I 256 /dev/vdb2",
            "mkfs.ext4 -F -U b0070000-0000-4000-8000-000000000005 -b 4096 -I 256 /dev/vdb5",
            "mkswap -U b0070000-0000-4000-8000-000000000006 /dev/vdb6",
            "mkdir -p /mnt/restore",
            "mount -t ext4 /dev/vdb2 /mnt/restore",
            "mkdir -p /mnt/restore/boot",
            "mount -t ext2 /dev/vdb1 /mnt/restore/boot",
            "mkdir -p /mnt/restore/var",
            "mount -t ext4 /dev/vdb5 /mnt/restore/var",
            "mkdir -p /mnt/restore/dev /mnt/restore/proc /mnt/restore/sys",
            "mount --bind /dev /mnt/restore/dev",
            "mount --bind /proc /mnt/restore/proc",
            "mount --bind /sys /mnt/restore/sys",
            "chroot /mnt/restore grub-install --target=i386-pc /dev/vdb",
            "umount /mnt/restore/sys",
            "umount /mnt/restore/proc",
            "umount /mnt/restore/dev",
            "umount /mnt/restore/var",
            "umount /mnt/restore/boot",
            "umount /mnt/restore",
            "sync",
        ]
    );
    assert_eq!(
        native[0],
        "write an MBR partition table (disk signature 0x1234abcd) with 5 partitions on /dev/vdb"
    );
    assert_eq!(
        native[1],
        "wait for /dev/vdb1, /dev/vdb2, /dev/vdb3, /dev/vdb5, /dev/vdb6"
    );
    let text = plan.to_string();
    for want in [
        "       | label: dos\n       | label-id: 0x1234abcd\n       | sector-size: 512\n\
         |       /dev/vdb1 : start=2048, size=1048576, type=83, bootable\n",
        "| /dev/vdb3 : start=13633536, size=7337984, type=5\n",
        "| /dev/vdb5 : start=13635584, size=6289408, type=83\n",
        "reinstall GRUB for BIOS on /dev/vdb, inside the restored system",
    ] {
        let want = want.replace("\n|       ", "\n       | ");
        assert!(text.contains(&want), "the plan lacks {want:?}:\n{text}");
    }
}

#[test]
fn without_the_boot_loader_and_on_a_bigger_disk() {
    let ml = mbr_bios();
    let plan = make_plan(&ml, &onto(&ml, "/dev/sdb", 2 * 20971520), false).unwrap();
    let runner = Recording::new();
    run(&plan, &runner).0.unwrap();
    let t = runner.transcript();
    assert!(
        !t.iter()
            .any(|c| c.contains("grub-install") || c.contains("--bind")),
        "{t:#?}"
    );
    // Proportional: the data partitions grew, the layout still ends inside the disk.
    let disk = &plan.layout.disks[0];
    let root = disk.partition(2).unwrap();
    assert!(root.size > 12582912, "{root:?}");
    assert!(disk.partitions.iter().all(|p| p.end() <= 2 * 20971520));
    assert!(plan
        .to_string()
        .contains("(10G) -> /dev/sdb (20G), the layout fitted: proportional"));
}

#[test]
fn a_target_too_small_is_refused_before_anything_runs() {
    let ml = gpt_uefi();
    // 4 GiB: root has 3 GiB in use and /home 1 GiB; with the ESP and swap it cannot fit.
    let err = make_plan(&ml, &onto(&ml, "/dev/vdb", 8388608), false).unwrap_err();
    match &err {
        PlanError::Fit(FitError::TooSmall { disk, .. }) => assert_eq!(disk, "/dev/vdb"),
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("nothing was written"), "{text}");
    assert!(text.contains("/dev/vdb (4G) is too small"), "{text}");
    // No plan: nothing to apply, nothing run.
    let runner = Recording::new();
    assert!(runner.transcript().is_empty());
}

#[test]
fn an_invalid_or_unmapped_mountlist_is_refused() {
    let mut ml = gpt_uefi();
    let maps = onto(&ml, "/dev/vdb", 41943040);
    ml.disks[0].partitions[2].start = 2048; // overlaps the ESP
    let err = make_plan(&ml, &maps, false).unwrap_err();
    assert!(matches!(err, PlanError::Invalid(_)), "{err:?}");
    assert!(err.to_string().contains("overlap"), "{err}");
    let ml = gpt_uefi();
    let err = make_plan(&ml, &[], false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/dev/sda of the mountlist has no target disk: map it with --disk-map OLD=NEW"
    );
}

#[test]
fn a_failing_mkfs_stops_the_steps_and_nothing_after_it_runs() {
    let ml = gpt_uefi();
    let plan = make_plan(&ml, &onto(&ml, "/dev/vdb", 41943040), false).unwrap();
    let runner = Recording::new();
    for _ in 0..6 {
        runner.reply_stdout("");
    }
    runner.reply_exit(
        1,
        "mke2fs 1.47.0 (5-Feb-2023)\n/dev/vdb2: Input/output error while writing out and \
         closing file system\n",
    );
    let native = DryNative::silent();
    let mut failed = None;
    let err = apply(&plan, &runner, &native, &mut |e| {
        if let Event::Failed { number, .. } = e {
            failed = Some(number);
        }
    })
    .unwrap_err();
    let transcript = runner.transcript();
    assert_eq!(transcript.len(), 7, "{transcript:#?}");
    assert!(
        transcript[6].starts_with("mkfs.ext4 -F -U 0d1e2f3a"),
        "{transcript:#?}"
    );
    let step = plan
        .steps
        .iter()
        .position(|s| s.command().is_some_and(|c| c.program == "mkfs.ext4"))
        .unwrap()
        + 1;
    assert_eq!((err.number, failed), (step, Some(step)));
    assert_eq!(err.total, plan.steps.len());
    match &err.cause {
        StepError::Command(RunError::Failed {
            command,
            code,
            stderr_tail,
            ..
        }) => {
            assert!(command.starts_with("mkfs.ext4 -F"), "{command}");
            assert_eq!(*code, Some(1));
            assert!(stderr_tail.contains("Input/output error"), "{stderr_tail}");
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "step {step} of {} failed (make an ext4 filesystem on /dev/vdb2",
            plan.steps.len()
        )),
        "{text}"
    );
    assert!(text.contains("(exit status 1): mke2fs 1.47.0"), "{text}");
    // Nothing was mounted yet: no cleanup; the native side never restored anything.
    assert!(err.cleanup.is_empty());
    assert!(!native.actions().iter().any(|a| a.starts_with("restore")));
    assert_eq!(err.outcome.steps_done, step - 1);
    assert!(
        err.outcome.log.contains("FAILED: `mkfs.ext4"),
        "{}",
        err.outcome.log
    );
}

#[test]
fn a_failure_after_mounting_unmounts_in_reverse_order() {
    let ml = gpt_uefi();
    let plan = make_plan(&ml, &onto(&ml, "/dev/vdb", 41943040), false).unwrap();
    let mounts_before_fail = plan
        .steps
        .iter()
        .position(|s| matches!(s, Step::Mount { dir, .. } if dir.ends_with("home")))
        .unwrap();
    let commands_before: usize = plan.steps[..=mounts_before_fail]
        .iter()
        .filter(|s| s.command().is_some())
        .count();
    // The mkdir for /boot/efi comes before the failing mount: a reply for it too.
    let runner = Recording::new();
    for _ in 0..commands_before + 1 {
        runner.reply_stdout("");
    }
    runner.reply_exit(
        32,
        "mount: /mnt/restore/boot/efi: unknown filesystem type 'vfat'.\n",
    );
    let native = DryNative::silent();
    let err = apply(&plan, &runner, &native, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("unknown filesystem type"), "{err}");
    let t = runner.transcript();
    assert_eq!(
        &t[t.len() - 3..],
        [
            "mount -t vfat /dev/vdb1 /mnt/restore/boot/efi",
            "umount /mnt/restore/home",
            "umount /mnt/restore"
        ]
    );
    assert_eq!(
        err.cleanup,
        ["unmounted /mnt/restore/home", "unmounted /mnt/restore"]
    );
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_dry_run_prints_every_step_and_does_nothing() {
    let ml = gpt_uefi();
    let root = tempfile::tempdir().unwrap();
    let choices = Choices {
        root: root.path().join("restore"),
        ..Choices::default()
    };
    let plan = plan_with(
        &ml,
        &onto(&ml, "/dev/vdb", 41943040),
        ResizeMode::GrowLast,
        &choices,
        &mut || Ok("00000000-0000-4000-8000-000000000001".into()),
    )
    .unwrap();
    let out = Shared::default();
    let runner = DryRun::to_writer(out.clone());
    let native = DryNative::to_writer(out.clone());
    let outcome = apply(&plan, &runner, &native, &mut |_| {}).unwrap();
    assert_eq!(outcome.steps_done, plan.steps.len());
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.starts_with(
            "would run: wipefs -a /dev/vdb    # erase the partition table and signatures on \
             /dev/vdb (everything on it is lost)\nwould run: partx -d --nr 1:256 /dev/vdb    # make \
             the kernel forget the partitions /dev/vdb had\nwould write a GPT partition table"
        ),
        "{text}"
    );
    assert!(text.contains("    label: gpt\n"), "{text}");
    assert!(text.contains("would restore the files into"), "{text}");
    assert!(!root.path().join("restore").exists(), "nothing made");
}

/// sfdisk --json of an image, the "partitiontable" object.
fn sfdisk_json(image: &std::path::Path) -> serde_json::Value {
    let out = host_tests::output(host_tests::command("sfdisk").arg("--json").arg(image));
    assert!(out.success(), "{}", out.report());
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    v["partitiontable"].clone()
}

#[test]
fn tables_written_natively_pass_sfdisk_verify_and_read_back() {
    if !host_tests::require_tools(&["sfdisk"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, ml) in [("gpt", gpt_uefi()), ("mbr", mbr_bios())] {
        let disk = &ml.disks[0];
        let image = dir.path().join(format!("{name}.img"));
        let mut file = std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&image)
            .unwrap();
        file.set_len(disk.size_bytes()).unwrap();
        let table = restore_tui::engine::partition::Table::from_disk(disk, &mut || {
            unreachable!("every GUID is given")
        })
        .unwrap()
        .unwrap();
        table.write(&mut file).unwrap();
        drop(file);
        let verify = host_tests::output(host_tests::command("sfdisk").arg("--verify").arg(&image));
        assert!(verify.success(), "{name}: {}", verify.report());
        assert!(
            !verify.combined().to_lowercase().contains("warning"),
            "{name}: {}",
            verify.report()
        );
        let t = sfdisk_json(&image);
        let parts = t["partitions"].as_array().unwrap();
        assert_eq!(parts.len(), disk.partitions.len(), "{name}: {t:#}");
        for (p, want) in parts.iter().zip(&disk.partitions) {
            let node = p["node"].as_str().unwrap();
            assert!(
                node.ends_with(&want.number.to_string()),
                "{node} for {}",
                want.number
            );
            assert_eq!(p["start"].as_u64(), Some(want.start), "{name} {node}");
            assert_eq!(p["size"].as_u64(), Some(want.size), "{name} {node}");
            if let Some(g) = &want.gpt {
                assert_eq!(p["type"].as_str().unwrap().to_lowercase(), g.type_guid);
                assert_eq!(p["uuid"].as_str().unwrap().to_lowercase(), g.unique_guid);
                assert_eq!(p["name"].as_str().unwrap_or(""), g.name);
            }
            if let Some(m) = &want.mbr {
                assert_eq!(p["type"].as_str().unwrap(), format!("{:x}", m.type_id));
                assert_eq!(p["bootable"].as_bool().unwrap_or(false), m.bootable);
            }
        }
        match name {
            "gpt" => {
                assert_eq!(t["label"], "gpt");
                assert_eq!(t["id"], "5B1D7A4E-2F0C-4D7E-9A51-0C3F2E8B9D11");
                assert_eq!(t["firstlba"].as_u64(), Some(2048));
                assert_eq!(t["lastlba"].as_u64(), Some(41943006));
            }
            _ => {
                assert_eq!(t["label"], "dos");
                assert_eq!(t["id"], "0x1234abcd");
            }
        }
    }
}

/// A pretend native side whose restored system has no grub-install.
struct NoGrub(DryNative);

impl restore_tui::engine::Native for NoGrub {
    fn write_table(
        &self,
        disk: &str,
        table: &restore_tui::engine::partition::Table,
    ) -> Result<(), restore_tui::engine::NativeError> {
        self.0.write_table(disk, table)
    }
    fn wait_for_partitions(
        &self,
        disk: &str,
        devices: &[String],
    ) -> Result<Vec<String>, restore_tui::engine::NativeError> {
        self.0.wait_for_partitions(disk, devices)
    }
    fn restore_files(
        &self,
        root: &std::path::Path,
        selection: &rescue_core::restore_files::Selection,
        progress: &mut dyn FnMut(&rescue_core::restore_files::RestoreReport),
    ) -> Result<rescue_core::restore_files::RestoreReport, restore_tui::engine::NativeError> {
        self.0.restore_files(root, selection, progress)
    }
    fn rewrite_fstab(
        &self,
        path: &std::path::Path,
        changes: &[restore_tui::engine::fstab::FstabChange],
    ) -> Result<Vec<String>, restore_tui::engine::NativeError> {
        self.0.rewrite_fstab(path, changes)
    }
    fn exists(&self, _path: &std::path::Path) -> bool {
        false
    }
    fn write_file(
        &self,
        path: &std::path::Path,
        contents: &[u8],
    ) -> Result<(), restore_tui::engine::NativeError> {
        self.0.write_file(path, contents)
    }
}

#[test]
fn a_restored_system_without_grub_install_is_finished_without_it_and_says_so() {
    let ml = mbr_bios();
    let plan = make_plan(&ml, &onto(&ml, "/dev/vdb", 20971520), true).unwrap();
    let runner = Recording::new();
    let mut notes = Vec::new();
    let outcome = apply(&plan, &runner, &NoGrub(DryNative::silent()), &mut |e| {
        if let Event::Note(n) = e {
            notes.push(n.to_string());
        }
    })
    .unwrap();
    assert!(!runner.transcript().iter().any(|c| c.contains("grub")));
    assert!(!outcome.clean(), "the boot loader was asked for");
    assert_eq!(
        outcome.problems,
        [
            "the restored system has no grub-install (looked in /mnt/restore): the boot loader \
          was not reinstalled"
        ]
    );
    assert_eq!(notes, outcome.problems);
    // The rest still ran to the end.
    assert_eq!(runner.transcript().last().map(String::as_str), Some("sync"));
}

#[test]
fn a_uefi_layout_whose_esp_is_not_mounted_plans_no_boot_loader_and_warns() {
    let mut ml = gpt_uefi();
    let esp = ml.disks[0].partitions[0].filesystem.as_mut().unwrap();
    esp.mount_point = None;
    esp.fstab = None;
    let plan = make_plan(&ml, &onto(&ml, "/dev/vdb", 41943040), true).unwrap();
    assert!(!plan
        .steps
        .iter()
        .any(|s| matches!(s, Step::InstallBootLoader { .. })));
    assert!(
        plan.warnings.iter().any(|w| w.contains(
            "the EFI System Partition /dev/vdb1 is not mounted by the restore (it has no \
             mount point): the boot loader is not reinstalled"
        )),
        "{:#?}",
        plan.warnings
    );
}

#[test]
fn a_mapping_of_a_disk_the_mountlist_lacks_is_named() {
    let ml = gpt_uefi();
    let mut maps = onto(&ml, "/dev/vdb", 41943040);
    maps.push(DiskMap {
        from: "/dev/sdq".into(),
        to: TargetDisk {
            path: "/dev/vdc".into(),
            sectors: 41943040,
            logical_sector_size: 512,
        },
    });
    let err = make_plan(&ml, &maps, false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the disk mapping cannot be used (nothing was written): no disk /dev/sdq in the \
         mountlist; it has /dev/sda"
    );
}

#[test]
fn untouched_and_kept_partitions_are_not_formatted_and_the_untouched_not_restored_into() {
    let ml = gpt_uefi();
    let (plan, transcript, native) = run_with_actions(
        &ml,
        41943040,
        &[
            ("/dev/vdb1", PartitionAction::KeepAsIs),
            ("/dev/vdb3", PartitionAction::Untouched),
        ],
    );
    assert_eq!(
        transcript,
        [
            // Only the table headers: the kept partitions' data stays.
            "wipefs -a -t gpt,PMBR,dos /dev/vdb".to_string(),
            "partx -d --nr 1:256 /dev/vdb".into(),
            "partx -a /dev/vdb".into(),
            "wipefs -a /dev/vdb2 /dev/vdb4".into(),
            format!(
                "mkfs.ext4 -F -U {ROOT_UUID} -L root -b 4096 -I 256 -O \
                 none,has_journal,extent,64bit,metadata_csum /dev/vdb2"
            ),
            "e2label /dev/vdb2 root".into(),
            format!("mkswap -U {SWAP_UUID} -L swap /dev/vdb4"),
            "swaplabel -L swap /dev/vdb4".into(),
            "mkdir -p /mnt/restore".into(),
            "mount -t ext4 /dev/vdb2 /mnt/restore".into(),
            "mkdir -p /mnt/restore/boot/efi".into(),
            "mount -t vfat /dev/vdb1 /mnt/restore/boot/efi".into(),
            "umount /mnt/restore/boot/efi".into(),
            "umount /mnt/restore".into(),
            "sync".into(),
        ]
    );
    // The table is written with every partition, the kept ones where they were.
    assert_eq!(
        native[..2],
        [
            "write a GPT partition table (disk GUID 5b1d7a4e-2f0c-4d7e-9a51-0c3f2e8b9d11) \
             with 4 partitions on /dev/vdb",
            "wait for /dev/vdb1, /dev/vdb2, /dev/vdb3, /dev/vdb4",
        ]
    );
    let Some(Step::WriteTable { table, .. }) = plan
        .steps
        .iter()
        .find(|s| matches!(s, Step::WriteTable { .. }))
    else {
        panic!("no table written");
    };
    let script = table.sfdisk_script("/dev/vdb");
    assert!(
        script.contains("/dev/vdb3 : start=32507904, size=8388608,"),
        "{script}"
    );
    // The restore leaves out what lies below /home.
    let Some(Step::RestoreFiles { selection, .. }) = plan
        .steps
        .iter()
        .find(|s| matches!(s, Step::RestoreFiles { .. }))
    else {
        panic!("no restore");
    };
    assert_eq!(selection.exclude, [b"home".to_vec()]);
    assert!(selection.selects(b"home"));
    assert!(!selection.selects(b"home/ann/notes"));
    assert!(selection.selects(b"etc/hostname"));
    assert!(
        plan.warnings
            .iter()
            .any(|w| w
                == "/dev/vdb3 (/home) is left untouched: not formatted, mounted or restored into"),
        "{:#?}",
        plan.warnings
    );
    assert_eq!(plan.target_disks(), ["/dev/vdb"]);
    assert!(plan.erased_disks().is_empty());
    let text = plan.to_string();
    assert!(!text.contains("EVERYTHING ON"), "{text}");
    for want in [
        "/dev/vdb: THE PARTITION TABLE, /dev/vdb2, /dev/vdb4 ARE ERASED; kept: /dev/vdb1 (keep \
         as is), /dev/vdb3 (untouched).",
        "restore every file of the backup into /mnt/restore, checking each file against its \
         BLAKE3; leaving out what lies below /home",
        "erase only the partition table headers on /dev/vdb (/dev/vdb1, /dev/vdb3 kept inside)",
        "the partition table of /dev/vdb is written again: what the kept partitions hold \
         survives only if they are where the layout puts them (/dev/vdb1 at sector 2048, \
         1048576 sectors; /dev/vdb3 at sector 32507904, 8388608 sectors)",
    ] {
        assert!(text.contains(want), "the plan lacks {want:?}:\n{text}");
    }
    // fstab: the kept filesystems keep their UUIDs, so only device names change.
    let Some(Step::RewriteFstab { changes, .. }) = plan
        .steps
        .iter()
        .find(|s| matches!(s, Step::RewriteFstab { .. }))
    else {
        panic!("no fstab rewrite");
    };
    assert!(
        changes.iter().all(|c| !c.old.starts_with("UUID=")),
        "{changes:?}"
    );
}

#[test]
fn a_disk_formatted_only_keeps_its_table() {
    let ml = mbr_bios();
    let (plan, transcript, native) = run_with_actions(
        &ml,
        20971520,
        &[
            ("/dev/vdb1", PartitionAction::FormatOnly),
            ("/dev/vdb2", PartitionAction::FormatOnly),
            ("/dev/vdb5", PartitionAction::FormatOnly),
            ("/dev/vdb6", PartitionAction::FormatOnly),
        ],
    );
    assert_eq!(
        transcript,
        [
            "wipefs -a /dev/vdb1 /dev/vdb2 /dev/vdb5 /dev/vdb6",
            "mkfs.ext2 -F -U b0070000-0000-4000-8000-000000000001 -L boot -b 1024 -I 128 /dev/vdb1",
            "e2label /dev/vdb1 boot",
            "mkfs.ext4 -F -U b0070000-0000-4000-8000-000000000002 -b 4096 -I 256 /dev/vdb2",
            "mkfs.ext4 -F -U b0070000-0000-4000-8000-000000000005 -b 4096 -I 256 /dev/vdb5",
            "mkswap -U b0070000-0000-4000-8000-000000000006 /dev/vdb6",
            "mkdir -p /mnt/restore",
            "mount -t ext4 /dev/vdb2 /mnt/restore",
            "mkdir -p /mnt/restore/boot",
            "mount -t ext2 /dev/vdb1 /mnt/restore/boot",
            "mkdir -p /mnt/restore/var",
            "mount -t ext4 /dev/vdb5 /mnt/restore/var",
            "umount /mnt/restore/var",
            "umount /mnt/restore/boot",
            "umount /mnt/restore",
            "sync",
        ]
    );
    // No table written: the partitions are used as they are (the extended one is not
    // needed).
    assert_eq!(
        native[0],
        "wait for /dev/vdb1, /dev/vdb2, /dev/vdb5, /dev/vdb6"
    );
    assert!(!plan
        .steps
        .iter()
        .any(|s| matches!(s, Step::WriteTable { .. })));
    assert_eq!(plan.target_disks(), ["/dev/vdb"]);
    assert!(plan.erased_disks().is_empty());
    let text = plan.to_string();
    assert!(
        text.contains(
            "/dev/vdb: /dev/vdb1, /dev/vdb2, /dev/vdb5, /dev/vdb6 ARE ERASED; kept: the \
             partition table."
        ),
        "{text}"
    );
}

#[test]
fn a_disk_kept_whole_is_not_written_to_and_an_unknown_device_is_refused() {
    let ml = gpt_uefi();
    let (plan, t, native) = run_with_actions(
        &ml,
        41943040,
        &[
            ("/dev/vdb1", PartitionAction::KeepAsIs),
            ("/dev/vdb2", PartitionAction::KeepAsIs),
            ("/dev/vdb3", PartitionAction::KeepAsIs),
            ("/dev/vdb4", PartitionAction::Untouched),
        ],
    );
    assert!(
        t.iter().all(|c| c.starts_with("mkdir ")
            || c.starts_with("mount ")
            || c.starts_with("umount ")
            || c == "sync"),
        "{t:#?}"
    );
    assert_eq!(native[0], "wait for /dev/vdb1, /dev/vdb2, /dev/vdb3");
    assert!(plan.target_disks().is_empty());
    assert_eq!(plan.mapped_disks(), ["/dev/vdb"]);
    let text = plan.to_string();
    assert!(!text.contains("ERASED"), "{text}");
    assert!(
        text.contains(
            "/dev/vdb: nothing is erased; kept: the partition table, /dev/vdb1 (keep as is), \
             /dev/vdb2 (keep as is), /dev/vdb3 (keep as is), /dev/vdb4 (untouched)."
        ),
        "{text}"
    );
    assert!(plan
        .warnings
        .iter()
        .any(|w| w == "/dev/vdb4 is left untouched: not formatted, mounted or restored into"));

    let err = with_actions(
        &ml,
        &onto(&ml, "/dev/vdb", 41943040),
        false,
        &[("/dev/sda2", PartitionAction::KeepAsIs)],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "an action is chosen for /dev/sda2: the layout has no such device (nothing was written)"
    );
}

#[test]
fn renames_into_an_untouched_mount_point_are_left_out_too() {
    let ml = gpt_uefi();
    let exclude_with = |renames: &[(&str, &str)]| {
        let mut choices = Choices {
            actions: [("/dev/vdb3".to_string(), PartitionAction::Untouched)].into(),
            ..Choices::default()
        };
        choices.selection.renames = renames
            .iter()
            .map(|(o, n)| (o.as_bytes().to_vec(), n.as_bytes().to_vec()))
            .collect();
        let plan = plan_with(
            &ml,
            &onto(&ml, "/dev/vdb", 41943040),
            ResizeMode::Proportional,
            &choices,
            &mut || Ok("00000000-0000-4000-8000-000000000001".into()),
        )
        .unwrap();
        plan.steps
            .iter()
            .find_map(|s| match s {
                Step::RestoreFiles { selection, .. } => Some(
                    selection
                        .exclude
                        .iter()
                        .map(|e| String::from_utf8_lossy(e).into_owned())
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(exclude_with(&[]), ["home"]);
    // Everything lands under /restored: /home's files go to /restored/home, on root.
    assert!(exclude_with(&[("", "restored")]).is_empty());
    // /srv lands in /home: it is left out as well.
    assert_eq!(exclude_with(&[("srv", "home/srv")]), ["home", "srv"]);
    // /home is moved away (onto root); /var takes its place.
    assert_eq!(
        exclude_with(&[("home", "old/home"), ("var", "home")]),
        ["var"]
    );
    // /opt spread over the root: its home lands in /home.
    assert_eq!(exclude_with(&[("opt", "")]), ["home", "opt/home"]);
}

#[test]
fn mount_points_never_lead_outside_the_root() {
    let maps = |ml: &Mountlist| onto(ml, "/dev/vdb", 41943040);
    let set_mount = |ml: &mut Mountlist, number: usize, mp: &str| {
        let fs = ml.disks[0].partitions[number - 1].filesystem.as_mut();
        fs.unwrap().mount_point = Some(mp.into());
    };

    // A ".." is refused before anything is planned.
    let mut ml = gpt_uefi();
    set_mount(&mut ml, 3, "/mnt/../../etc");
    let err = make_plan(&ml, &maps(&ml), true).unwrap_err();
    assert!(matches!(err, PlanError::Invalid(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("/dev/sda3: mount point \"/mnt/../../etc\" has a \"..\" component"),
        "{err}"
    );

    // "//" is the root's mount point a second time.
    let mut ml = gpt_uefi();
    set_mount(&mut ml, 3, "//");
    let err = make_plan(&ml, &maps(&ml), true).unwrap_err();
    assert!(
        err.to_string()
            .contains("/dev/sda3: mount point / is also used by /dev/sda2"),
        "{err}"
    );

    // Other spellings are mounted in normal form, inside the root.
    let mut ml = gpt_uefi();
    set_mount(&mut ml, 1, "/boot//efi/");
    set_mount(&mut ml, 2, "/.");
    set_mount(&mut ml, 3, "//home/./");
    let plan = make_plan(&ml, &maps(&ml), true).unwrap();
    let runner = Recording::new();
    run(&plan, &runner).0.unwrap();
    let transcript = runner.transcript();
    for want in [
        "mount -t ext4 /dev/vdb2 /mnt/restore",
        "mount -t ext4 /dev/vdb3 /mnt/restore/home",
        "mount -t vfat /dev/vdb1 /mnt/restore/boot/efi",
        "chroot /mnt/restore grub-install --target=x86_64-efi --efi-directory=/boot/efi \
         --removable",
    ] {
        assert!(
            transcript.iter().any(|c| c == want),
            "{want:?} in {transcript:#?}"
        );
    }
    for cmd in runner.commands() {
        if !["mkdir", "mount", "umount"].contains(&cmd.program.as_str()) {
            continue;
        }
        let dir = std::path::Path::new(cmd.args.last().unwrap());
        assert!(dir.starts_with("/mnt/restore"), "{cmd}");
        assert!(
            dir.components().all(|c| matches!(
                c,
                std::path::Component::RootDir | std::path::Component::Normal(_)
            )),
            "{cmd}"
        );
    }
}

/// The grub-install and bootctl commands a plan of `ml` (with its boot paths set to
/// `paths`, JSON) runs onto /dev/vdb, and its notes.
fn boot_commands(mut ml: Mountlist, paths: &str) -> (Vec<String>, Vec<String>) {
    ml.boot.paths = Some(serde_json::from_str(paths).expect("boot paths parse"));
    let plan = make_plan(&ml, &onto(&ml, "/dev/vdb", ml.disks[0].sectors), true).unwrap();
    let runner = Recording::new();
    let (result, _, _) = run(&plan, &runner);
    result.unwrap();
    let installs = runner
        .transcript()
        .into_iter()
        .filter(|c| c.contains("grub-install") || c.contains("bootctl"))
        .collect();
    (installs, plan.warnings.clone())
}

#[test]
fn every_captured_boot_path_is_reinstalled_on_the_mapped_disk() {
    // GRUB in the MBR and the BIOS boot partition, at the ESP's fallback path and under
    // EFI/debian with a firmware entry: the hybrid layout Debian's installers make.
    let (installs, _) = boot_commands(
        gpt_uefi(),
        r#"[{"kind": "mbr", "disk": "/dev/sda", "loader": "grub"},
            {"kind": "bios_boot_partition", "disk": "/dev/sda", "partition": 4,
             "loader": "grub"},
            {"kind": "esp_file", "disk": "/dev/sda", "partition": 1,
             "path": "EFI/BOOT/BOOTX64.EFI", "loader": "grub"},
            {"kind": "esp_file", "disk": "/dev/sda", "partition": 1,
             "path": "EFI/debian/grubx64.efi", "loader": "grub"},
            {"kind": "esp_file", "disk": "/dev/sda", "partition": 1,
             "path": "EFI/debian/shimx64.efi", "loader": "shim"},
            {"kind": "nvram", "number": 1, "description": "debian",
             "file": "\\EFI\\debian\\shimx64.efi"}]"#,
    );
    let chroot = "chroot /mnt/restore grub-install";
    assert_eq!(
        installs,
        [
            format!("{chroot} --target=i386-pc /dev/vdb"),
            format!("{chroot} --target=x86_64-efi --efi-directory=/boot/efi --removable"),
            format!(
                "{chroot} --target=x86_64-efi --efi-directory=/boot/efi --bootloader-id=debian"
            ),
        ]
    );
}

#[test]
fn a_source_without_a_boot_loader_gets_none() {
    let (installs, notes) = boot_commands(mbr_bios(), "[]");
    assert!(installs.is_empty(), "{installs:?}");
    assert!(
        notes
            .iter()
            .any(|n| n.contains("the source had no boot loader")),
        "{notes:?}"
    );
}

#[test]
fn systemd_boot_is_reinstalled_with_bootctl_and_other_loaders_are_named() {
    let (installs, notes) = boot_commands(
        gpt_uefi(),
        r#"[{"kind": "esp_file", "disk": "/dev/sda", "partition": 1,
             "path": "EFI/systemd/systemd-bootx64.efi", "loader": "systemd-boot"},
            {"kind": "esp_file", "disk": "/dev/sda", "partition": 1,
             "path": "EFI/BOOT/BOOTX64.EFI", "loader": "systemd-boot"},
            {"kind": "mbr", "disk": "/dev/sda", "loader": "other"}]"#,
    );
    assert_eq!(
        installs,
        ["chroot /mnt/restore bootctl install --esp-path=/boot/efi"]
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("another boot loader in the MBR of /dev/sda")),
        "{notes:?}"
    );
}
