//! The `rescue.*` options of the kernel command line (/proc/cmdline).

use std::fmt;
use std::time::Duration;

/// How long to wait for the boot media when `rescue.wait=` does not say.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// What the rescue system does once it is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Interactive,
    Nuke,
    Compare,
    Expert,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "interactive" => Some(Mode::Interactive),
            "nuke" => Some(Mode::Nuke),
            "compare" => Some(Mode::Compare),
            "expert" => Some(Mode::Expert),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Interactive => "interactive",
            Mode::Nuke => "nuke",
            Mode::Compare => "compare",
            Mode::Expert => "expert",
        })
    }
}

/// The rescue options, with the warnings met while reading them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `rescue.label=`: the volume id of the boot media; without it any `RESCUE_*` volume.
    pub label: Option<String>,
    /// `rescue.mode=`
    pub mode: Mode,
    /// `rescue.yes`: no questions.
    pub yes: bool,
    /// `rescue.poweroff`: power off when a nuke ends.
    pub poweroff: bool,
    /// `rescue.debug`: say more while booting.
    pub debug: bool,
    /// `rescue.disk-map=OLD=NEW`, in the order given.
    pub disk_map: Vec<(String, String)>,
    /// `rescue.wait=SECONDS`: how long to wait for the boot media.
    pub wait: Duration,
    /// `rescue.console=NAME`: the terminal under /dev (`ttyS0`) to use as the console from
    /// the start-up on, whatever the boot menu made /dev/console.
    pub console: Option<String>,
    /// `rescue.verify`: after a nuke, compare the restored disks with the backup's catalog.
    pub verify: bool,
    /// `rescue.trusted-key=PATH`: accept only volumes signed by the public key in this file
    /// of the rescue system (`/etc/rescue/trusted-key.pem` on signed media).
    pub trusted_key: Option<String>,
    /// Options that were not understood, one sentence each.
    pub warnings: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            label: None,
            mode: Mode::default(),
            yes: false,
            poweroff: false,
            debug: false,
            disk_map: Vec::new(),
            wait: DEFAULT_WAIT,
            console: None,
            verify: false,
            trusted_key: None,
            warnings: Vec::new(),
        }
    }
}

/// Splits a kernel command line into parameters the way the kernel does: on whitespace,
/// where double quotes group (and are removed), as in `rescue.label="A B"`.
pub fn split(cmdline: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_token = false;
    let mut quoted = false;
    for c in cmdline.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                in_token = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_token {
                    out.push(std::mem::take(&mut cur));
                    in_token = false;
                }
            }
            c => {
                cur.push(c);
                in_token = true;
            }
        }
    }
    if in_token {
        out.push(cur);
    }
    out
}

/// Reads the `rescue.*` options of a kernel command line; every other parameter belongs
/// to someone else and is left alone. Nothing here fails: what is not understood becomes
/// a warning and the default stays.
pub fn parse(cmdline: &str) -> Options {
    let mut o = Options::default();
    for param in split(cmdline) {
        let Some(rest) = param.strip_prefix("rescue.") else {
            continue;
        };
        let (key, value) = match rest.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (rest, None),
        };
        // The kernel treats '-' and '_' in parameter names alike; so do we.
        let key = key.replace('_', "-");
        match key.as_str() {
            "label" => match value.map(str::trim) {
                Some(v) if !v.is_empty() => o.label = Some(v.to_string()),
                _ => o.warnings.push(format!("{param}: a label is needed")),
            },
            "mode" => match value.and_then(Mode::parse) {
                Some(m) => o.mode = m,
                None => o.warnings.push(format!(
                    "{param}: the mode is one of interactive, nuke, compare, expert; \
                     staying {}",
                    o.mode
                )),
            },
            "yes" | "poweroff" | "debug" | "verify" => match flag(value) {
                Some(on) => match key.as_str() {
                    "yes" => o.yes = on,
                    "poweroff" => o.poweroff = on,
                    "verify" => o.verify = on,
                    _ => o.debug = on,
                },
                None => o.warnings.push(format!(
                    "{param}: expected no value, or 1/0, yes/no, on/off"
                )),
            },
            "disk-map" => match value.and_then(|v| v.split_once('=')) {
                Some((old, new)) if !old.is_empty() && !new.is_empty() => {
                    // A later map of the same disk wins, as options from the host must.
                    let disk = |d: &str| d.trim_start_matches("/dev/").to_string();
                    o.disk_map.retain(|(was, _)| disk(was) != disk(old));
                    o.disk_map.push((old.to_string(), new.to_string()));
                }
                _ => o
                    .warnings
                    .push(format!("{param}: expected rescue.disk-map=OLD=NEW")),
            },
            "wait" => match value.and_then(|v| v.trim().parse::<u64>().ok()) {
                Some(secs) => o.wait = Duration::from_secs(secs),
                None => o.warnings.push(format!(
                    "{param}: expected a number of seconds; waiting {} s",
                    o.wait.as_secs()
                )),
            },
            "trusted-key" => match value.map(str::trim) {
                Some(v) if v.starts_with('/') => o.trusted_key = Some(v.to_string()),
                // Fail closed: a key meant but not usable refuses every volume.
                _ => {
                    o.trusted_key = Some(String::new());
                    o.warnings.push(format!(
                        "{param}: expected the absolute path of a public key file, such as \
                         rescue.trusted-key=/etc/rescue/trusted-key.pem; every volume will \
                         be refused"
                    ));
                }
            },
            "console" => match value.and_then(console_name) {
                Some(name) => o.console = Some(name),
                None => o.warnings.push(format!(
                    "{param}: expected the name of a terminal under /dev, such as ttyS0; \
                     keeping the console"
                )),
            },
            _ => o.warnings.push(format!("{param}: unknown option, ignored")),
        }
    }
    o
}

/// The options of the kernel command line with `extra` appended (rehearsals pass theirs
/// through QEMU's fw_cfg): parsed as one line, so the extra ones win where both say.
pub fn parse_with_extra(cmdline: &str, extra: &str) -> Options {
    parse(&format!("{} {extra}", cmdline.trim_end()))
}

/// `ttyS0` or `/dev/ttyS0` -> `ttyS0`: a plain name under /dev, nothing that climbs out of
/// it.
fn console_name(value: &str) -> Option<String> {
    let name = value.trim();
    let name = name.strip_prefix("/dev/").unwrap_or(name);
    let plain = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    (plain && !name.is_empty() && !name.starts_with('.')).then(|| name.to_string())
}

fn flag(value: Option<&str>) -> Option<bool> {
    match value {
        None => Some(true),
        Some("1" | "yes" | "true" | "on" | "") => Some(true),
        Some("0" | "no" | "false" | "off") => Some(false),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_when_nothing_is_given() {
        let o = parse("BOOT_IMAGE=/boot/vmlinuz console=ttyS0,115200 quiet\n");
        assert_eq!(o, Options::default());
        assert_eq!(o.mode, Mode::Interactive);
        assert_eq!(o.wait, Duration::from_secs(10));
    }

    #[test]
    fn reads_every_option() {
        let o = parse(
            "initrd=/boot/initrd.gz rescue.label=RESCUE_1A2B3C4D rescue.mode=nuke rescue.yes \
             rescue.poweroff rescue.disk-map=vda=vdb rescue.disk_map=/dev/sda=/dev/nvme0n1 \
             rescue.debug rescue.wait=30 console=ttyS0 rescue.console=/dev/ttyS1 rescue.verify \
             rescue.trusted-key=/etc/rescue/trusted-key.pem",
        );
        assert_eq!(o.label.as_deref(), Some("RESCUE_1A2B3C4D"));
        assert_eq!(o.mode, Mode::Nuke);
        assert!(o.yes && o.poweroff && o.debug);
        assert_eq!(
            o.disk_map,
            vec![
                ("vda".to_string(), "vdb".to_string()),
                ("/dev/sda".to_string(), "/dev/nvme0n1".to_string())
            ]
        );
        assert_eq!(o.wait, Duration::from_secs(30));
        assert_eq!(o.console.as_deref(), Some("ttyS1"));
        assert!(o.verify);
        assert_eq!(
            o.trusted_key.as_deref(),
            Some("/etc/rescue/trusted-key.pem")
        );
        assert!(o.warnings.is_empty(), "{:?}", o.warnings);
    }

    #[test]
    fn a_trusted_key_that_is_no_path_still_asks_for_signed_media() {
        for given in ["rescue.trusted-key", "rescue.trusted-key=key.pem"] {
            let o = parse(given);
            assert_eq!(o.trusted_key.as_deref(), Some(""), "{given}");
            assert!(
                o.warnings[0].contains("every volume will be refused"),
                "{given}"
            );
        }
    }

    #[test]
    fn console_names_stay_under_dev() {
        for (given, want) in [
            ("ttyS0", Some("ttyS0")),
            ("/dev/hvc0", Some("hvc0")),
            ("ttyUSB0", Some("ttyUSB0")),
            ("", None),
            ("../sda", None),
            ("pts/0", None),
            ("..", None),
            ("ttyS0,115200", None),
        ] {
            let o = parse(&format!("rescue.console={given}"));
            assert_eq!(o.console.as_deref(), want, "rescue.console={given}");
            assert_eq!(o.warnings.len(), usize::from(want.is_none()), "{given}");
        }
        let o = parse("rescue.console");
        assert_eq!(o.console, None);
        assert!(
            o.warnings[0].contains("keeping the console"),
            "{:?}",
            o.warnings
        );
    }

    #[test]
    fn options_from_the_host_come_after_the_command_line_and_win() {
        let o = parse_with_extra(
            "BOOT_IMAGE=/boot/vmlinuz rescue.mode=interactive rescue.wait=5 \
             rescue.disk-map=sda=sdb rescue.disk-map=sdc=sdd rescue.verify=0\n",
            "rescue.mode=nuke rescue.yes rescue.verify rescue.console=ttyS0 \
             rescue.disk-map=/dev/sda=/dev/vda",
        );
        assert_eq!(o.mode, Mode::Nuke);
        assert!(o.yes && o.verify);
        assert_eq!(o.wait, Duration::from_secs(5), "kept from the command line");
        assert_eq!(o.console.as_deref(), Some("ttyS0"));
        // A map of the same disk replaces the command line's; others add up.
        assert_eq!(
            o.disk_map,
            vec![
                ("sdc".to_string(), "sdd".to_string()),
                ("/dev/sda".to_string(), "/dev/vda".to_string())
            ]
        );
        assert!(o.warnings.is_empty(), "{:?}", o.warnings);
        // Nothing extra: the command line alone.
        assert_eq!(parse_with_extra("rescue.yes\n", ""), parse("rescue.yes"));
    }

    #[test]
    fn flags_take_explicit_values_and_the_last_word_wins() {
        let o = parse("rescue.yes=0 rescue.debug=on rescue.mode=expert rescue.mode=compare");
        assert!(!o.yes);
        assert!(o.debug);
        assert_eq!(o.mode, Mode::Compare);
        assert!(o.warnings.is_empty());
    }

    #[test]
    fn unknown_and_bad_options_are_warnings_not_failures() {
        let o = parse(
            "rescue.colour=blue rescue.mode=fast rescue.wait=soon rescue.disk-map=vda \
             rescue.yes=maybe rescue.label= mode=nuke",
        );
        assert_eq!(o.mode, Mode::Interactive);
        assert_eq!(o.wait, DEFAULT_WAIT);
        assert!(o.disk_map.is_empty());
        assert!(!o.yes);
        assert_eq!(o.label, None);
        assert_eq!(o.warnings.len(), 6, "{:?}", o.warnings);
        assert!(o.warnings[0].contains("rescue.colour=blue: unknown option"));
        assert!(o.warnings[1].contains("rescue.mode=fast"));
        assert!(o.warnings[2].contains("rescue.wait=soon"));
    }

    #[test]
    fn quotes_group_words_like_the_kernel_does() {
        assert_eq!(
            split(" a=\"b c\"  \"d=e f\" g\n"),
            vec!["a=b c".to_string(), "d=e f".to_string(), "g".to_string()]
        );
        assert_eq!(
            parse("rescue.label=\"RESCUE_X \"").label.as_deref(),
            Some("RESCUE_X")
        );
        assert!(split("  \n").is_empty());
    }
}
