//! Shell-style patterns (`*`, `?`, `[a-z]`, `[!x]`) as fnmatch(3) matches them: module
//! aliases (`pci:v00008086d*`) and `include` lines of ld.so.conf (`/etc/ld.so.conf.d/*.conf`).

use std::path::{Path, PathBuf};

/// Whether `name` matches the whole of `pattern`. Without FNM_PATHNAME: `*` crosses `/`.
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    matches(pattern.as_bytes(), name.as_bytes())
}

/// [`fnmatch`] on raw bytes, for file names that are not UTF-8.
pub fn fnmatch_bytes(pattern: &[u8], name: &[u8]) -> bool {
    matches(pattern, name)
}

pub fn has_wildcards(s: &str) -> bool {
    s.bytes().any(|b| matches!(b, b'*' | b'?' | b'['))
}

fn matches(p: &[u8], s: &[u8]) -> bool {
    // Iterative with one backtrack point for the last `*`, as glibc does.
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() {
            match p[pi] {
                b'*' => {
                    star = Some((pi, si));
                    pi += 1;
                    continue;
                }
                b'?' => {
                    pi += 1;
                    si += 1;
                    continue;
                }
                b'[' => {
                    if let Some((ok, next)) = class(&p[pi..], s[si]) {
                        if ok {
                            pi += next;
                            si += 1;
                            continue;
                        }
                    } else if s[si] == b'[' {
                        // An unclosed bracket is a literal.
                        pi += 1;
                        si += 1;
                        continue;
                    }
                }
                b'\\' if pi + 1 < p.len() && p[pi + 1] == s[si] => {
                    pi += 2;
                    si += 1;
                    continue;
                }
                // An escaped character that does not match.
                b'\\' if pi + 1 < p.len() => {}
                c if c == s[si] => {
                    pi += 1;
                    si += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, ss)) => {
                pi = sp + 1;
                si = ss + 1;
                star = Some((sp, ss + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

/// Matches one byte against the bracket expression at the start of `p`; returns whether it
/// matched and the length of the expression, or None when the bracket is not closed.
fn class(p: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some(b'!') | Some(b'^'));
    if negate {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    loop {
        let b = *p.get(i)?;
        if b == b']' && !first {
            return Some((found != negate, i + 1));
        }
        first = false;
        if p.get(i + 1) == Some(&b'-') && p.get(i + 2).is_some_and(|&e| e != b']') {
            let e = p[i + 2];
            if b <= c && c <= e {
                found = true;
            }
            i += 3;
        } else {
            if b == c {
                found = true;
            }
            i += 1;
        }
    }
}

/// Expands a glob over the files under `root` (the pattern is an absolute path on the host,
/// `root` is where that host's `/` is). Returns host paths (without `root`), sorted, as
/// glob(3) does. Wildcards may stand in any component.
pub fn glob(root: &Path, pattern: &Path) -> Vec<PathBuf> {
    let mut found = vec![PathBuf::from("/")];
    for comp in pattern.components().skip(1) {
        let part = comp.as_os_str().to_string_lossy().into_owned();
        let mut next = Vec::new();
        for dir in &found {
            if has_wildcards(&part) {
                let Ok(read) = std::fs::read_dir(root.join(dir.strip_prefix("/").unwrap_or(dir)))
                else {
                    continue;
                };
                let mut names: Vec<String> = read
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.') || part.starts_with('.'))
                    .filter(|n| fnmatch(&part, n))
                    .collect();
                names.sort();
                next.extend(names.into_iter().map(|n| dir.join(n)));
            } else {
                let p = dir.join(&part);
                if root
                    .join(p.strip_prefix("/").unwrap_or(&p))
                    .symlink_metadata()
                    .is_ok()
                {
                    next.push(p);
                }
            }
        }
        found = next;
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_like_fnmatch() {
        assert!(fnmatch("*.conf", "libc.conf"));
        assert!(!fnmatch("*.conf", "libc.conf~"));
        assert!(fnmatch(
            "pci:v00008086d*sv*sd*bc*sc*i*",
            "pci:v00008086d00001234sv0sd0bc01sc06i01"
        ));
        assert!(fnmatch("fs-iso9660", "fs-iso9660"));
        assert!(!fnmatch("fs-iso9660", "fs-iso966"));
        assert!(fnmatch("a?c", "abc"));
        assert!(fnmatch("x[0-9]y", "x5y"));
        assert!(!fnmatch("x[!0-9]y", "x5y"));
        assert!(fnmatch("x[!0-9]y", "xay"));
        assert!(fnmatch("x[]]y", "x]y"));
        assert!(fnmatch("*", ""));
        assert!(fnmatch("a*b*c", "aXbYbZc"));
        assert!(!fnmatch("a*b*c", "aXbYbZ"));
        assert!(fnmatch("x[ab", "x[ab"));
        assert!(fnmatch("a\\*b", "a*b"));
        assert!(!fnmatch("a\\*b", "a\\b"));
    }

    #[test]
    fn globs_files_in_sorted_order() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("etc/ld.so.conf.d");
        std::fs::create_dir_all(&d).unwrap();
        for n in ["b.conf", "a.conf", "c.txt", ".hidden.conf"] {
            std::fs::write(d.join(n), "").unwrap();
        }
        let got = glob(dir.path(), Path::new("/etc/ld.so.conf.d/*.conf"));
        assert_eq!(
            got,
            vec![
                PathBuf::from("/etc/ld.so.conf.d/a.conf"),
                PathBuf::from("/etc/ld.so.conf.d/b.conf")
            ]
        );
        assert_eq!(glob(dir.path(), Path::new("/etc/*/c.txt")).len(), 1);
        assert!(glob(dir.path(), Path::new("/nope/*.conf")).is_empty());
    }
}
