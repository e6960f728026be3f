//! The bytes of tar headers: ustar header blocks (numeric fields in octal or base-256,
//! the checksum) and pax extended header records, both ways. No I/O here.

/// The tar block size.
pub const BLOCK: usize = 512;

/// Rounds `n` up to a whole number of blocks.
pub fn padded(n: u64) -> u64 {
    n.div_ceil(BLOCK as u64) * BLOCK as u64
}

/// Field offsets and lengths of the ustar header.
pub mod field {
    pub const NAME: (usize, usize) = (0, 100);
    pub const MODE: (usize, usize) = (100, 8);
    pub const UID: (usize, usize) = (108, 8);
    pub const GID: (usize, usize) = (116, 8);
    pub const SIZE: (usize, usize) = (124, 12);
    pub const MTIME: (usize, usize) = (136, 12);
    pub const CHKSUM: (usize, usize) = (148, 8);
    pub const TYPEFLAG: usize = 156;
    pub const LINKNAME: (usize, usize) = (157, 100);
    pub const MAGIC: (usize, usize) = (257, 6);
    pub const VERSION: (usize, usize) = (263, 2);
    pub const UNAME: (usize, usize) = (265, 32);
    pub const GNAME: (usize, usize) = (297, 32);
    pub const DEVMAJOR: (usize, usize) = (329, 8);
    pub const DEVMINOR: (usize, usize) = (337, 8);
    pub const PREFIX: (usize, usize) = (345, 155);
}

/// The largest value an octal field of `len` bytes holds (len - 1 digits and a NUL).
pub fn octal_max(len: usize) -> u64 {
    (1u64 << (3 * (len as u32 - 1))) - 1
}

/// A ustar header block under construction.
#[derive(Debug, Clone)]
pub struct HeaderBlock(pub [u8; BLOCK]);

impl HeaderBlock {
    /// An empty POSIX ustar header (magic `ustar\0`, version `00`, device numbers 0).
    pub fn new(typeflag: u8) -> HeaderBlock {
        let mut h = HeaderBlock([0; BLOCK]);
        h.0[field::TYPEFLAG] = typeflag;
        h.bytes(field::MAGIC, b"ustar\0");
        h.bytes(field::VERSION, b"00");
        h.number(field::DEVMAJOR, 0);
        h.number(field::DEVMINOR, 0);
        h
    }

    /// Copies `value` into the field; it must fit (callers check).
    pub fn bytes(&mut self, (off, len): (usize, usize), value: &[u8]) {
        let n = value.len().min(len);
        self.0[off..off + n].copy_from_slice(&value[..n]);
    }

    /// Writes `value` in octal when it fits the field (zero-padded digits and a NUL),
    /// else in base-256 (GNU and star read that).
    pub fn number(&mut self, (off, len): (usize, usize), value: u64) {
        let f = &mut self.0[off..off + len];
        if value <= octal_max(len) {
            let digits = format!("{value:0width$o}", width = len - 1);
            f[..len - 1].copy_from_slice(digits.as_bytes());
            f[len - 1] = 0;
        } else {
            f.fill(0);
            f[0] = 0x80;
            let be = value.to_be_bytes();
            let n = be.len().min(len - 1);
            f[len - n..].copy_from_slice(&be[be.len() - n..]);
        }
    }

    /// Computes and stores the checksum; the block is then complete.
    pub fn finish(mut self) -> [u8; BLOCK] {
        let sum = checksum(&self.0);
        let digits = format!("{sum:06o}");
        let (off, _) = field::CHKSUM;
        self.0[off..off + 6].copy_from_slice(digits.as_bytes());
        self.0[off + 6] = 0;
        self.0[off + 7] = b' ';
        self.0
    }
}

/// The header checksum: the sum of all bytes with the checksum field taken as spaces.
pub fn checksum(block: &[u8; BLOCK]) -> u64 {
    let (off, len) = field::CHKSUM;
    block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (off..off + len).contains(&i) {
                u64::from(b' ')
            } else {
                u64::from(b)
            }
        })
        .sum()
}

/// The historic signed variant of the checksum (bytes as `i8`), which some old tars wrote.
fn checksum_signed(block: &[u8; BLOCK]) -> i64 {
    let (off, len) = field::CHKSUM;
    block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (off..off + len).contains(&i) {
                i64::from(b' ')
            } else {
                i64::from(b as i8)
            }
        })
        .sum()
}

/// True when the block's stored checksum matches its bytes (unsigned or signed sum).
pub fn checksum_ok(block: &[u8; BLOCK]) -> bool {
    let (off, len) = field::CHKSUM;
    let Some(stored) = parse_number(&block[off..off + len]) else {
        return false;
    };
    stored == checksum(block) || i64::try_from(stored).ok() == Some(checksum_signed(block))
}

/// Reads a numeric field: octal digits (leading spaces or NULs, ended by a space or NUL)
/// or base-256 (first byte 0x80 for positive, 0xff for negative: negatives give None).
/// An all-empty field is 0.
pub fn parse_number(f: &[u8]) -> Option<u64> {
    if f.is_empty() {
        return Some(0);
    }
    if f[0] & 0x80 != 0 {
        if f[0] == 0xff {
            return None;
        }
        let mut v: u64 = u64::from(f[0] & 0x7f);
        for &b in &f[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let mut i = 0;
    while i < f.len() && (f[i] == b' ' || f[i] == 0) {
        i += 1;
    }
    let mut v: u64 = 0;
    while i < f.len() && (b'0'..=b'7').contains(&f[i]) {
        v = v.checked_mul(8)?.checked_add(u64::from(f[i] - b'0'))?;
        i += 1;
    }
    // What follows the digits must be terminators only.
    if f[i..].iter().any(|&b| b != b' ' && b != 0) {
        return None;
    }
    Some(v)
}

/// Reads a numeric field that may be negative (times): base-256 with a first byte 0xff
/// is a two's complement negative number; otherwise as [`parse_number`].
pub fn parse_signed(f: &[u8]) -> Option<i64> {
    if f.first() == Some(&0xff) {
        if f.len() > 8 && f[..f.len() - 8].iter().any(|&b| b != 0xff) {
            return None;
        }
        let mut v: i64 = -1;
        for &b in &f[f.len().saturating_sub(8)..] {
            v = (v << 8) | i64::from(b);
        }
        return Some(v);
    }
    i64::try_from(parse_number(f)?).ok()
}

/// A NUL-terminated string field (the whole field when it has no NUL).
pub fn parse_str(f: &[u8]) -> &[u8] {
    match f.iter().position(|&b| b == 0) {
        Some(n) => &f[..n],
        None => f,
    }
}

/// Appends one pax record `"<len> <key>=<value>\n"`; `len` counts its own digits.
pub fn push_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let rest = 1 + key.len() + 1 + value.len() + 1; // ' ' key '=' value '\n'
    let mut len = rest + 1;
    loop {
        let total = rest + decimal_len(len as u64);
        if total == len {
            break;
        }
        len = total;
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

fn decimal_len(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// Parses the records of a pax extended header. Stops at a NUL (padding). Errors say what
/// is wrong, relative to the header's data.
/// A pax record: key and value, bytes.
pub type Record = (Vec<u8>, Vec<u8>);

pub fn parse_records(data: &[u8]) -> Result<Vec<Record>, String> {
    let mut out = Vec::new();
    let mut p = 0;
    while p < data.len() && data[p] != 0 {
        let sp = data[p..]
            .iter()
            .take(21)
            .position(|&b| b == b' ')
            .ok_or_else(|| format!("pax record at +{p}: no length"))?;
        let len: usize = std::str::from_utf8(&data[p..p + sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("pax record at +{p}: bad length"))?;
        if len < sp + 3 || p + len > data.len() {
            return Err(format!("pax record at +{p}: length {len} out of range"));
        }
        let rec = &data[p + sp + 1..p + len];
        if rec.last() != Some(&b'\n') {
            return Err(format!("pax record at +{p}: not ended by a newline"));
        }
        let rec = &rec[..rec.len() - 1];
        let eq = rec
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| format!("pax record at +{p}: no '='"))?;
        out.push((rec[..eq].to_vec(), rec[eq + 1..].to_vec()));
        p += len;
    }
    Ok(out)
}

/// A time as pax writes it: seconds, and nine digits of nanoseconds when not 0.
/// Negative times with nanoseconds are written as the negative decimal they are
/// ((-2, 500_000_000) is "-1.500000000").
pub fn format_time((secs, nanos): (i64, u32)) -> String {
    if nanos == 0 {
        secs.to_string()
    } else if secs >= 0 {
        format!("{secs}.{nanos:09}")
    } else {
        let whole = -(secs + 1);
        format!("-{whole}.{:09}", 1_000_000_000 - nanos)
    }
}

/// Parses a pax time ("123", "123.5", "-1.25"); digits past nanoseconds are dropped.
pub fn parse_time(v: &[u8]) -> Option<(i64, u32)> {
    let s = std::str::from_utf8(v).ok()?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = int.parse().ok()?;
    let mut nanos: u32 = 0;
    for (i, b) in frac.bytes().take(9).enumerate() {
        nanos += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
    }
    if !neg {
        Some((secs, nanos))
    } else if nanos == 0 {
        Some((secs.checked_neg()?, 0))
    } else {
        Some((secs.checked_neg()?.checked_sub(1)?, 1_000_000_000 - nanos))
    }
}

/// Parses a decimal pax value.
pub fn parse_decimal(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// GNU tar's escaping of xattr names in `SCHILY.xattr.` keys: `%` as `%25`, `=` as `%3D`
/// (a pax key ends at the first `=`).
pub fn encode_xattr_name(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    for &b in name {
        match b {
            b'%' => out.extend_from_slice(b"%25"),
            b'=' => out.extend_from_slice(b"%3D"),
            _ => out.push(b),
        }
    }
    out
}

/// Undoes [`encode_xattr_name`] (only `%25` and `%3D`, as GNU tar does).
pub fn decode_xattr_name(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len());
    let mut i = 0;
    while i < key.len() {
        if key[i] == b'%' && i + 3 <= key.len() {
            match &key[i + 1..i + 3] {
                b"25" => {
                    out.push(b'%');
                    i += 3;
                    continue;
                }
                b"3D" | b"3d" => {
                    out.push(b'=');
                    i += 3;
                    continue;
                }
                _ => {}
            }
        }
        out.push(key[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_length_counts_itself() {
        let mut out = Vec::new();
        push_record(&mut out, b"path", b"a");
        assert_eq!(out, b"9 path=a\n");
        // 98 bytes of rest + 2 digits = 100: needs 3 digits -> 101
        let mut out = Vec::new();
        let v = vec![b'x'; 98 - 7];
        push_record(&mut out, b"path", &v);
        let parsed = parse_records(&out).unwrap();
        assert_eq!(parsed, vec![(b"path".to_vec(), v)]);
        let len: usize = std::str::from_utf8(&out[..out.iter().position(|&b| b == b' ').unwrap()])
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(len, out.len());
    }

    #[test]
    fn records_with_binary_values() {
        let mut out = Vec::new();
        push_record(&mut out, b"SCHILY.xattr.user.x", b"a\nb=\0c");
        push_record(&mut out, b"mtime", b"1.5");
        let parsed = parse_records(&out).unwrap();
        assert_eq!(parsed[0].1, b"a\nb=\0c");
        assert_eq!(parsed[1], (b"mtime".to_vec(), b"1.5".to_vec()));
        assert!(parse_records(b"5 a=b\n").is_err());
        assert!(parse_records(b"99 a=b\n").is_err());
        assert!(parse_records(b"x a=b\n").is_err());
    }

    #[test]
    fn times() {
        for t in [
            (0, 0),
            (1_763_700_000, 123_456_789),
            (5, 1),
            (-1, 0),
            (-2, 500_000_000),
            (-1, 1),
        ] {
            assert_eq!(parse_time(format_time(t).as_bytes()), Some(t), "{t:?}");
        }
        assert_eq!(format_time((-2, 500_000_000)), "-1.500000000");
        assert_eq!(parse_time(b"12.3456789999"), Some((12, 345_678_999)));
        assert_eq!(parse_time(b"-0.5"), Some((-1, 500_000_000)));
        assert_eq!(parse_time(b"1e3"), None);
        assert_eq!(parse_time(b""), None);
    }

    #[test]
    fn numbers_octal_and_base256() {
        let mut h = HeaderBlock::new(b'0');
        h.number(field::SIZE, 0o777);
        assert_eq!(&h.0[124..136], b"00000000777\0");
        assert_eq!(parse_number(&h.0[124..136]), Some(0o777));
        let big = 1u64 << 40;
        h.number(field::SIZE, big);
        assert_eq!(h.0[124], 0x80);
        assert_eq!(parse_number(&h.0[124..136]), Some(big));
        h.number(field::UID, 4_000_000);
        assert_eq!(parse_number(&h.0[108..116]), Some(4_000_000));
        assert_eq!(parse_number(b"  755 \0\0"), Some(0o755));
        assert_eq!(parse_number(b"\0\0\0\0"), Some(0));
        assert_eq!(parse_number(b"12x4"), None);
        assert_eq!(parse_number(&[0xff; 8]), None);
        let mut minus_two = [0xffu8; 12];
        minus_two[11] = 0xfe;
        assert_eq!(parse_signed(&minus_two), Some(-2));
        assert_eq!(parse_signed(b"00000000017\0"), Some(15));
    }

    #[test]
    fn checksum_round_trip() {
        let mut h = HeaderBlock::new(b'5');
        h.bytes(field::NAME, b"dir/");
        let block = h.finish();
        assert!(checksum_ok(&block));
        let mut bad = block;
        bad[3] ^= 1;
        assert!(!checksum_ok(&bad));
    }

    #[test]
    fn xattr_names() {
        assert_eq!(encode_xattr_name(b"user.a%b=c"), b"user.a%25b%3Dc");
        assert_eq!(decode_xattr_name(b"user.a%25b%3Dc"), b"user.a%b=c");
        assert_eq!(decode_xattr_name(b"user.%41%"), b"user.%41%");
    }
}
