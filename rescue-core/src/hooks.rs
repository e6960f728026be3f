//! The `--before-volume` and `--after-volume` hooks: a user's shell command run for each
//! volume, with the volume's image and number substituted (so a user can burn each disc
//! as it is made).
//!
//! Placeholders: `{iso}` and `{volume}`, and Mondo's `_ISO_` and `_CD#_` for the same.
//! The command runs through `sh -c`; it also finds the values in the environment as
//! `MKRESCUE_ISO` and `MKRESCUE_VOLUME`.

use crate::runner::{quote, Cmd};
use std::ffi::OsStr;
use std::fmt;

/// Which hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookKind {
    /// `--before-volume`: before a volume's image is written.
    BeforeVolume,
    /// `--after-volume`: once a volume's image is complete.
    AfterVolume,
}

impl HookKind {
    /// The option that sets it: "--before-volume", "--after-volume".
    pub fn option(self) -> &'static str {
        match self {
            HookKind::BeforeVolume => "--before-volume",
            HookKind::AfterVolume => "--after-volume",
        }
    }
}

impl fmt::Display for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.option())
    }
}

const ISO: [&str; 2] = ["{iso}", "_ISO_"];
const VOLUME: [&str; 2] = ["{volume}", "_CD#_"];

/// The template with `{iso}` / `_ISO_` replaced by `iso` and `{volume}` / `_CD#_` by the
/// volume number, as plain text, in one pass: placeholders inside the substituted values
/// stay as they are.
pub fn substitute(template: &str, iso: &str, volume: u32) -> String {
    substitute_with(template, iso, &volume.to_string())
}

fn substitute_with(template: &str, iso: &str, volume: &str) -> String {
    let mut out = String::with_capacity(template.len() + iso.len());
    let mut rest = template;
    while !rest.is_empty() {
        if let Some(tail) = ISO.iter().find_map(|p| rest.strip_prefix(p)) {
            out.push_str(iso);
            rest = tail;
        } else if let Some(tail) = VOLUME.iter().find_map(|p| rest.strip_prefix(p)) {
            out.push_str(volume);
            rest = tail;
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The hook as a command for the Runner: `sh -c` with the placeholders substituted.
///
/// The image path goes in shell-quoted where it needs it (a path with a space or a quote
/// stays one word; an ordinary path goes in as it is, so `"{iso}"` works too). A hook
/// that fails fails the command, and the Runner's error carries its exit status and the
/// tail of its stderr.
pub fn hook_command(kind: HookKind, template: &str, iso: &str, volume: u32) -> Cmd {
    let script = substitute_with(template, &quote(OsStr::new(iso)), &volume.to_string());
    Cmd::new("sh")
        .arg("-c")
        .arg(script)
        .env("MKRESCUE_ISO", iso)
        .env("MKRESCUE_VOLUME", volume.to_string())
        .describe(format!("run the {kind} hook for volume {volume}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{RealRunner, RunError, Runner};

    #[test]
    fn substitutes_both_spellings() {
        assert_eq!(
            substitute("burn {iso} (disc {volume})", "/out/rescue-2.iso", 2),
            "burn /out/rescue-2.iso (disc 2)"
        );
        assert_eq!(
            substitute(
                "growisofs -Z /dev/sr0=_ISO_; echo _CD#_ done",
                "/o/r-3.iso",
                3
            ),
            "growisofs -Z /dev/sr0=/o/r-3.iso; echo 3 done"
        );
        assert_eq!(
            substitute("{iso}{iso}_ISO_{volume}_CD#_", "x", 10),
            "xxx1010"
        );
        assert_eq!(substitute("no placeholders", "x", 1), "no placeholders");
        assert_eq!(substitute("", "x", 1), "");
        assert_eq!(substitute("{iso", "x", 1), "{iso");
        assert_eq!(substitute("_CD#", "x", 1), "_CD#");
        assert_eq!(substitute("é{volume}ü", "x", 7), "é7ü");
    }

    #[test]
    fn substituted_values_are_not_substituted_again() {
        assert_eq!(
            substitute("cp {iso} /mnt", "/out/{volume}/_CD#_.iso", 4),
            "cp /out/{volume}/_CD#_.iso /mnt"
        );
    }

    #[test]
    fn the_command_runs_the_template_through_sh() {
        let cmd = hook_command(
            HookKind::AfterVolume,
            "cp {iso} /mnt/_CD#_",
            "/o/r-2.iso",
            2,
        );
        assert_eq!(cmd.program, "sh");
        assert_eq!(cmd.args, ["-c", "cp /o/r-2.iso /mnt/2"]);
        assert_eq!(cmd.description, "run the --after-volume hook for volume 2");
        assert!(cmd
            .env
            .contains(&("MKRESCUE_ISO".to_string(), "/o/r-2.iso".to_string())));
        assert!(cmd
            .env
            .contains(&("MKRESCUE_VOLUME".to_string(), "2".to_string())));
        let before = hook_command(HookKind::BeforeVolume, "true", "/o/r-1.iso", 1);
        assert_eq!(
            before.description,
            "run the --before-volume hook for volume 1"
        );
    }

    #[test]
    fn a_path_with_spaces_stays_one_word() {
        let cmd = hook_command(HookKind::AfterVolume, "ls {iso}", "/my out/it's.iso", 1);
        assert_eq!(cmd.args[1], r"ls '/my out/it'\''s.iso'");
    }

    #[test]
    fn hooks_run_for_real_with_their_values() {
        let dir = tempfile::tempdir().unwrap();
        let iso = dir.path().join("rescue 1.iso");
        std::fs::write(&iso, b"image").unwrap();
        let iso = iso.to_str().unwrap();
        let cmd = hook_command(
            HookKind::AfterVolume,
            "cat {iso}; echo \" _CD#_ $MKRESCUE_VOLUME\"; test \"$MKRESCUE_ISO\" = {iso}",
            iso,
            3,
        );
        let out = RealRunner.run(&cmd).unwrap();
        assert_eq!(out.stdout_text(), "image 3 3\n");
    }

    #[test]
    fn a_failing_hook_reports_its_status_and_stderr() {
        let cmd = hook_command(
            HookKind::AfterVolume,
            "echo no disc in the drive >&2; exit 3",
            "/o/r-1.iso",
            1,
        );
        match RealRunner.run(&cmd) {
            Err(RunError::Failed {
                code, stderr_tail, ..
            }) => {
                assert_eq!(code, Some(3));
                assert!(stderr_tail.contains("no disc in the drive"));
            }
            other => panic!("{other:?}"),
        }
    }
}
