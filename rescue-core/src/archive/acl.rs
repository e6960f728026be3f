//! POSIX ACLs between the kernel's xattr form (`system.posix_acl_access` and
//! `system.posix_acl_default` values) and the text form GNU tar and star keep in
//! `SCHILY.acl.access` / `SCHILY.acl.default`.
//!
//! The xattr form: a little-endian u32 version (2), then entries of u16 tag, u16
//! permissions, u32 id. The text form written here has one entry a line with numeric ids
//! (`user:1234:r--`), which `acl_from_text` (GNU tar --acls) reads back exactly, whatever
//! users the extracting system knows.

pub const XATTR_ACCESS: &[u8] = b"system.posix_acl_access";
pub const XATTR_DEFAULT: &[u8] = b"system.posix_acl_default";
pub const PAX_ACCESS: &[u8] = b"SCHILY.acl.access";
pub const PAX_DEFAULT: &[u8] = b"SCHILY.acl.default";

const VERSION: u32 = 2;
const USER_OBJ: u16 = 0x01;
const USER: u16 = 0x02;
const GROUP_OBJ: u16 = 0x04;
const GROUP: u16 = 0x08;
const MASK: u16 = 0x10;
const OTHER: u16 = 0x20;
const UNDEFINED_ID: u32 = u32::MAX;

fn entries(value: &[u8]) -> Option<Vec<(u16, u16, u32)>> {
    if value.len() < 4 || !(value.len() - 4).is_multiple_of(8) {
        return None;
    }
    if u32::from_le_bytes(value[..4].try_into().ok()?) != VERSION {
        return None;
    }
    Some(
        value[4..]
            .chunks_exact(8)
            .map(|c| {
                (
                    u16::from_le_bytes([c[0], c[1]]),
                    u16::from_le_bytes([c[2], c[3]]),
                    u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
                )
            })
            .collect(),
    )
}

/// The text form of an ACL xattr value, or None when the value is not a valid ACL.
pub fn to_text(value: &[u8]) -> Option<String> {
    let mut out = String::new();
    for (tag, perm, id) in entries(value)? {
        let (word, named) = match tag {
            USER_OBJ => ("user", false),
            USER => ("user", true),
            GROUP_OBJ => ("group", false),
            GROUP => ("group", true),
            MASK => ("mask", false),
            OTHER => ("other", false),
            _ => return None,
        };
        out.push_str(word);
        out.push(':');
        if named {
            out.push_str(&id.to_string());
        }
        out.push(':');
        out.push(if perm & 4 != 0 { 'r' } else { '-' });
        out.push(if perm & 2 != 0 { 'w' } else { '-' });
        out.push(if perm & 1 != 0 { 'x' } else { '-' });
        out.push('\n');
    }
    Some(out)
}

/// The xattr value of a text ACL (lines or commas, `#` comments, star's fourth field with
/// the numeric id). None when it cannot be converted exactly: a qualifier that is a name
/// with no numeric id beside it, an unknown tag, or a malformed entry.
pub fn from_text(text: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(text).ok()?;
    let mut list: Vec<(u16, u16, u32)> = Vec::new();
    for raw in text.split(['\n', ',']) {
        let entry = raw.split('#').next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        let fields: Vec<&str> = entry.split(':').map(str::trim).collect();
        let (tagword, qual, perms, extra) = match fields.as_slice() {
            [t, p] => (*t, "", *p, None),
            [t, q, p] => (*t, *q, *p, None),
            [t, q, p, id] => (*t, *q, *p, Some(*id)),
            _ => return None,
        };
        let perm = parse_perms(perms)?;
        let id = if qual.is_empty() {
            None
        } else if let Ok(n) = qual.parse::<u32>() {
            Some(n)
        } else {
            Some(extra?.parse::<u32>().ok()?)
        };
        let (tag, id) = match (tagword, id) {
            ("user" | "u", None) => (USER_OBJ, UNDEFINED_ID),
            ("user" | "u", Some(id)) => (USER, id),
            ("group" | "g", None) => (GROUP_OBJ, UNDEFINED_ID),
            ("group" | "g", Some(id)) => (GROUP, id),
            ("mask" | "m", None) => (MASK, UNDEFINED_ID),
            ("other" | "o", None) => (OTHER, UNDEFINED_ID),
            _ => return None,
        };
        list.push((tag, perm, id));
    }
    let has = |t: u16| list.iter().any(|e| e.0 == t);
    if !has(USER_OBJ) || !has(GROUP_OBJ) || !has(OTHER) {
        return None;
    }
    list.sort_by_key(|&(tag, _, id)| (tag, id));
    let mut out = VERSION.to_le_bytes().to_vec();
    for (tag, perm, id) in list {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&perm.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    Some(out)
}

fn parse_perms(p: &str) -> Option<u16> {
    let mut perm = 0;
    for c in p.chars() {
        perm |= match c {
            'r' => 4,
            'w' => 2,
            'x' => 1,
            '-' => 0,
            _ => return None,
        };
    }
    Some(perm)
}

/// True when the ACL only repeats the mode bits (owner, group and other entries alone).
pub fn is_trivial(value: &[u8]) -> bool {
    entries(value).is_some_and(|e| {
        e.iter()
            .all(|&(t, _, _)| matches!(t, USER_OBJ | GROUP_OBJ | OTHER))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // What `setfacl -m u:1234:r,g:5678:rw` leaves (read back from the kernel).
    const SAMPLE: &[u8] = b"\x02\x00\x00\x00\x01\x00\x06\x00\xff\xff\xff\xff\x02\x00\x04\x00\xd2\x04\x00\x00\x04\x00\x04\x00\xff\xff\xff\xff\x08\x00\x06\x00.\x16\x00\x00\x10\x00\x06\x00\xff\xff\xff\xff \x00\x04\x00\xff\xff\xff\xff";

    #[test]
    fn text_matches_gnu_tar() {
        // GNU tar 1.34 wrote this for the same ACL (ids without names).
        let text = to_text(SAMPLE).unwrap();
        assert_eq!(
            text,
            "user::rw-\nuser:1234:r--\ngroup::r--\ngroup:5678:rw-\nmask::rw-\nother::r--\n"
        );
        assert_eq!(from_text(text.as_bytes()).unwrap(), SAMPLE);
    }

    #[test]
    fn other_text_forms() {
        // star: name and numeric id; commas; comments; out of order
        let star = b"user::rw-,user:ann:r--:1234,group::r--,group:5678:rw-,mask::rw-,other::r--";
        assert_eq!(from_text(star).unwrap(), SAMPLE);
        let shuffled = b"other::r--\nmask::rw- # effective\ngroup:5678:rw-\ngroup::r--\nuser:1234:r--\nuser::rw-\n";
        assert_eq!(from_text(shuffled).unwrap(), SAMPLE);
        assert_eq!(
            from_text(b"user::rw-\nuser:ann:r--\ngroup::r--\nother::r--\n"),
            None
        );
        assert_eq!(from_text(b"user::rw-\n"), None);
        assert!(is_trivial(
            &from_text(b"user::rwx\ngroup::r-x\nother::r-x\n").unwrap()
        ));
        assert!(!is_trivial(SAMPLE));
        assert_eq!(to_text(b"\x02\x00\x00"), None);
    }
}
