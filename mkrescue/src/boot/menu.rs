//! The boot menus (ISOLINUX for BIOS, GRUB for UEFI), rendered from the templates in the
//! top-level `boot/` folder.

use super::{BootConfig, Console};
use anyhow::{bail, Context, Result};

const ISOLINUX_CFG: &str = include_str!("../../../boot/isolinux/isolinux.cfg");
const ISOLINUX_ENTRY: &str = include_str!("../../../boot/isolinux/entry.cfg");
const ISOLINUX_MSG: &str = include_str!("../../../boot/isolinux/boot.msg");
const GRUB_CFG: &str = include_str!("../../../boot/grub/grub.cfg");
const GRUB_ENTRY: &str = include_str!("../../../boot/grub/entry.cfg");
const GRUB_EARLY: &str = include_str!("../../../boot/grub/early.cfg");

/// The restore modes the menu offers, in menu order; the first is the default.
pub const MODES: [(&str, &str); 4] = [
    ("interactive", "Interactive restore"),
    ("nuke", "Nuke: restore everything, no questions"),
    ("compare", "Compare the backup with the disks"),
    ("expert", "Expert: a shell"),
];

/// ISOLINUX counts its timeout in tenths of a second and takes at most an hour.
const ISOLINUX_MAX_TIMEOUT: u32 = 3600;

/// One menu entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// "interactive", "nuke-serial", ...: the ISOLINUX label and the GRUB menu id.
    pub name: String,
    pub title: String,
    /// The kernel command line.
    pub args: String,
}

/// The console arguments of an entry: the last `console=` is /dev/console, where the
/// rescue system's UI runs; kernel messages go to both.
pub fn console_args(console: Console) -> &'static str {
    match console {
        Console::Vga => "console=ttyS0,115200 console=tty0",
        Console::Serial => "console=tty0 console=ttyS0,115200",
    }
}

/// All eight entries: the VGA ones, then the serial ones, each in [`MODES`] order.
pub fn entries(cfg: &BootConfig) -> Vec<Entry> {
    let mut out = Vec::new();
    for (console, suffix, title_suffix) in [
        (Console::Vga, "", ""),
        (Console::Serial, "-serial", " (serial console)"),
    ] {
        for (mode, title) in MODES {
            let mut args = format!(
                "rescue.label={} rescue.mode={mode} {}",
                cfg.label,
                console_args(console)
            );
            let extra = cfg.extra_args.trim();
            if !extra.is_empty() {
                args.push(' ');
                args.push_str(extra);
            }
            out.push(Entry {
                name: format!("{mode}{suffix}"),
                title: format!("{title}{title_suffix}"),
                args,
            });
        }
    }
    out
}

/// The name of the default entry: interactive, on the console the config asks for.
pub fn default_entry(console: Console) -> &'static str {
    match console {
        Console::Vga => "interactive",
        Console::Serial => "interactive-serial",
    }
}

/// `/boot/isolinux/isolinux.cfg`.
pub fn isolinux_cfg(cfg: &BootConfig) -> Result<String> {
    let mut list = String::new();
    for entry in entries(cfg) {
        list.push_str(&render(
            "isolinux/entry.cfg",
            ISOLINUX_ENTRY,
            &[
                ("NAME", &entry.name),
                ("KERNEL", &cfg.kernel),
                ("INITRD", &cfg.initrd),
                ("ARGS", &entry.args),
            ],
        )?);
        list.push('\n');
    }
    let timeout = cfg.timeout_seconds.min(ISOLINUX_MAX_TIMEOUT);
    // TIMEOUT 0 means "wait forever" to ISOLINUX; PROMPT 0 boots the default at once.
    let prompt = if timeout == 0 { "0" } else { "1" };
    render(
        "isolinux/isolinux.cfg",
        ISOLINUX_CFG,
        &[
            ("PROMPT", prompt),
            ("TIMEOUT", &(timeout * 10).to_string()),
            ("DEFAULT", default_entry(cfg.console)),
            ("ENTRIES", list.trim_end()),
        ],
    )
}

/// `/boot/isolinux/boot.msg`: the text shown at the `boot:` prompt.
pub fn isolinux_msg(cfg: &BootConfig) -> Result<String> {
    let entries = entries(cfg);
    let width = entries.iter().map(|e| e.name.len()).max().unwrap_or(0);
    let menu: Vec<String> = entries
        .iter()
        .map(|e| format!("  {:width$}  {}", e.name, e.title))
        .collect();
    let wait = match cfg.timeout_seconds.min(ISOLINUX_MAX_TIMEOUT) {
        0 => String::new(),
        1 => " after 1 second".to_string(),
        n => format!(" after {n} seconds"),
    };
    render(
        "isolinux/boot.msg",
        ISOLINUX_MSG,
        &[
            ("LABEL", &cfg.label),
            ("MENU", &menu.join("\n")),
            ("DEFAULT", default_entry(cfg.console)),
            ("WAIT", &wait),
        ],
    )
}

/// `/boot/grub/grub.cfg`.
pub fn grub_cfg(cfg: &BootConfig) -> Result<String> {
    let mut list = String::new();
    for entry in entries(cfg) {
        let args: Vec<String> = entry.args.split_whitespace().map(grub_word).collect();
        list.push_str(&render(
            "grub/entry.cfg",
            GRUB_ENTRY,
            &[
                ("NAME", &entry.name),
                ("TITLE", &entry.title.replace('\'', "")),
                ("KERNEL", &cfg.kernel),
                ("INITRD", &cfg.initrd),
                ("ARGS", &args.join(" ")),
            ],
        )?);
        list.push('\n');
    }
    render(
        "grub/grub.cfg",
        GRUB_CFG,
        &[
            ("TIMEOUT", &cfg.timeout_seconds.to_string()),
            ("DEFAULT", default_entry(cfg.console)),
            ("ENTRIES", list.trim_end()),
        ],
    )
}

/// The configuration built into the UEFI GRUB binary: find the media, load its menu.
pub fn grub_early_cfg(label: &str) -> Result<String> {
    render("grub/early.cfg", GRUB_EARLY, &[("LABEL", label)])
}

/// A kernel argument as one GRUB word that GRUB hands on unchanged: GRUB's own special
/// characters are escaped with a backslash.
fn grub_word(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        if !(c.is_ascii_alphanumeric() || "-_=.,:/+@%".contains(c)) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Checks what goes on the kernel command line and into paths of the menus.
pub fn check(cfg: &BootConfig) -> Result<()> {
    crate::iso::validate_volume_id(&cfg.label).context("the boot label")?;
    for (what, path) in [("kernel", &cfg.kernel), ("initrd", &cfg.initrd)] {
        let plain = path.starts_with('/')
            && path.len() > 1
            && path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
            && !path.split('/').any(|c| c == "." || c == "..");
        if !plain {
            bail!(
                "the {what} path on the media {path:?} must be absolute and use only \
                 letters, digits, '/', '.', '_' and '-' (the boot loaders read it as it is)"
            );
        }
    }
    if let Some(bad) = cfg
        .extra_args
        .chars()
        .find(|c| !(c.is_ascii_graphic() || *c == ' '))
    {
        bail!(
            "the extra kernel arguments {:?} hold {bad:?}: only printable ASCII and spaces \
             fit on a boot loader's command line",
            cfg.extra_args
        );
    }
    Ok(())
}

/// Fills `@KEY@` placeholders; fails on a placeholder left unfilled.
pub fn render(name: &str, template: &str, values: &[(&str, &str)]) -> Result<String> {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find('@') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let key_len = after
            .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .unwrap_or(after.len());
        if key_len > 0 && after[key_len..].starts_with('@') {
            let key = &after[..key_len];
            match values.iter().find(|(k, _)| *k == key) {
                Some((_, value)) => out.push_str(value),
                None => bail!("boot/{name}: unknown placeholder @{key}@"),
            }
            rest = &after[key_len + 1..];
        } else {
            out.push('@');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(console: Console) -> BootConfig {
        BootConfig {
            label: "RESCUE_1A2B3C4D".into(),
            kernel: "/boot/vmlinuz".into(),
            initrd: "/boot/initrd.gz".into(),
            console,
            timeout_seconds: 5,
            extra_args: "".into(),
        }
    }

    #[test]
    fn render_fills_placeholders_and_refuses_unknown_ones() {
        let out = render("t", "a @X@ b @Y_Z@ c@d.e @ f@", &[("X", "1"), ("Y_Z", "2")]).unwrap();
        assert_eq!(out, "a 1 b 2 c@d.e @ f@");
        let err = render("t", "@NOPE@", &[]).unwrap_err();
        assert_eq!(err.to_string(), "boot/t: unknown placeholder @NOPE@");
    }

    #[test]
    fn eight_entries_with_console_arguments() {
        let entries = entries(&cfg(Console::Vga));
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "interactive",
                "nuke",
                "compare",
                "expert",
                "interactive-serial",
                "nuke-serial",
                "compare-serial",
                "expert-serial"
            ]
        );
        assert_eq!(
            entries[1].args,
            "rescue.label=RESCUE_1A2B3C4D rescue.mode=nuke console=ttyS0,115200 console=tty0"
        );
        assert_eq!(
            entries[7].args,
            "rescue.label=RESCUE_1A2B3C4D rescue.mode=expert console=tty0 console=ttyS0,115200"
        );
    }

    #[test]
    fn isolinux_config_is_complete() {
        let mut c = cfg(Console::Vga);
        c.extra_args = "  rescue.yes net.ifnames=0 ".into();
        let text = isolinux_cfg(&c).unwrap();
        let first = text
            .lines()
            .find(|l| !l.starts_with('#') && !l.trim().is_empty())
            .unwrap();
        assert_eq!(first, "SERIAL 0 115200");
        assert!(
            text.contains("\nPROMPT 1\nTIMEOUT 50\nDEFAULT interactive\n"),
            "{text}"
        );
        assert!(text.contains("DISPLAY boot.msg\n"));
        assert_eq!(text.matches("\nLABEL ").count(), 8);
        assert!(
            text.contains(
                "LABEL compare-serial\n  KERNEL /boot/vmlinuz\n  INITRD /boot/initrd.gz\n  APPEND \
             rescue.label=RESCUE_1A2B3C4D rescue.mode=compare console=tty0 \
             console=ttyS0,115200 rescue.yes net.ifnames=0\n"
            ),
            "{text}"
        );
        assert!(!text.contains('@'), "{text}");

        let serial = isolinux_cfg(&cfg(Console::Serial)).unwrap();
        assert!(serial.contains("DEFAULT interactive-serial\n"));
        let mut now = cfg(Console::Vga);
        now.timeout_seconds = 0;
        assert!(isolinux_cfg(&now)
            .unwrap()
            .contains("PROMPT 0\nTIMEOUT 0\n"));
    }

    #[test]
    fn isolinux_message_lists_every_entry() {
        let text = isolinux_msg(&cfg(Console::Serial)).unwrap();
        for entry in entries(&cfg(Console::Serial)) {
            assert!(text.contains(&format!("{}  ", entry.name)), "{text}");
        }
        assert!(text.contains("RESCUE_1A2B3C4D"));
        assert!(
            text.contains("boots \"interactive-serial\" after 5 seconds."),
            "{text}"
        );
    }

    #[test]
    fn grub_config_is_complete() {
        let mut c = cfg(Console::Serial);
        c.extra_args = "rescue.disk-map=vda=vdb foo=\"a;b\"".into();
        let text = grub_cfg(&c).unwrap();
        assert!(text.starts_with("# mkrescue"));
        assert!(text.contains(
            "serial --unit=0 --speed=115200\nterminal_input console serial\n\
             terminal_output console serial\n"
        ));
        assert!(text.contains("set timeout=5\nset default=interactive-serial\n"));
        assert_eq!(text.matches("\nmenuentry '").count(), 8);
        assert!(text.contains(
            "menuentry 'Interactive restore' --id interactive {\n    linux /boot/vmlinuz \
             rescue.label=RESCUE_1A2B3C4D rescue.mode=interactive console=ttyS0,115200 \
             console=tty0 rescue.disk-map=vda=vdb foo=\\\"a\\;b\\\"\n    initrd /boot/initrd.gz\n}\n"
        ), "{text}");
        assert!(text.contains("--id nuke-serial {"));
        assert!(!text.contains('@'));
        assert!(grub_cfg(&cfg(Console::Vga))
            .unwrap()
            .contains("set default=interactive\n"));
    }

    #[test]
    fn early_grub_config_searches_the_label() {
        let text = grub_early_cfg("RESCUE_X").unwrap();
        assert!(text.contains("search --no-floppy --set=root --label RESCUE_X\n"));
        assert!(text.contains("configfile ($root)/boot/grub/grub.cfg\n"));
    }

    #[test]
    fn check_refuses_what_a_boot_loader_cannot_take() {
        check(&cfg(Console::Vga)).unwrap();
        let mut c = cfg(Console::Vga);
        c.kernel = "/boot/my kernel".into();
        assert!(check(&c).unwrap_err().to_string().contains("kernel path"));
        let mut c = cfg(Console::Vga);
        c.initrd = "boot/initrd.gz".into();
        assert!(check(&c).is_err());
        let mut c = cfg(Console::Vga);
        c.extra_args = "a\nb".into();
        assert!(check(&c)
            .unwrap_err()
            .to_string()
            .contains("printable ASCII"));
        let mut c = cfg(Console::Vga);
        c.label = "rescue-1".into();
        let err = format!("{:#}", check(&c).unwrap_err());
        assert!(err.starts_with("the boot label: "), "{err}");
    }
}
