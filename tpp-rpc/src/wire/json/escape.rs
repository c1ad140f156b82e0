//! JSON string escaping, a block of bytes at a time.
//!
//! serde_json looks every byte of a string up in a table before it copies
//! the clean runs between escapes; for a long answer that loop is most of
//! the server's time. This checks 64 bytes at a time for one that needs an
//! escape (`"`, `\` or a control byte below 0x20) with a branch-free loop
//! the compiler turns into vector instructions (safe Rust, no intrinsics),
//! and copies the clean runs in one piece each. The bytes written are
//! serde_json's, escape for escape (tests compare both on any input).

use std::io;

/// Bytes whose escapes are found at once from a bit mask: two SSE2
/// vectors, one bit each in a `u32` (a `u64` mask is slower on text with
/// many escapes).
const BLOCK: usize = 32;

/// Bytes checked at once for whether any needs an escape: four SSE2
/// vectors (measured on a 1 MiB string: a third faster than 32 bytes at a
/// time, no faster with 128).
const SCAN_BLOCK: usize = 64;

/// Whether any byte of `block` needs an escape. No early exit, so that the
/// loop is vectorized.
#[inline(always)]
fn any_escape<const N: usize>(block: &[u8; N]) -> bool {
    block.iter().fold(false, |any, &b| any | needs_escape(b))
}

/// One bit per byte of `block` that needs an escape (bit `i` for byte `i`).
#[inline(always)]
fn escapes_in(block: &[u8; BLOCK]) -> u32 {
    block
        .iter()
        .enumerate()
        .fold(0, |mask, (i, &b)| mask | u32::from(needs_escape(b)) << i)
}

#[inline(always)]
const fn needs_escape(b: u8) -> bool {
    (b < 0x20) | (b == b'"') | (b == b'\\')
}

/// Where the first byte from `from` on that a JSON string cannot hold as it
/// is (`"`, `\\` or a control byte) sits: what ends a run of plain string
/// bytes, for the escaper and for [`super::skip`] alike.
#[inline]
pub(crate) fn next_special(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = bytes.get(from..)?;
    // Most strings (keys, short values) end within a few bytes: those are
    // looked at one by one, before any block.
    let head = rest.get(..SHORT).unwrap_or(rest);
    if let Some(p) = first(head) {
        return Some(from + p);
    }
    let mut at = from + head.len();
    let mut blocks = rest.get(head.len()..)?.chunks_exact(SCAN_BLOCK);
    for block in &mut blocks {
        if let Ok(block) = <&[u8; SCAN_BLOCK]>::try_from(block) {
            if any_escape(block) {
                return first(block).map(|p| at + p);
            }
        }
        at += SCAN_BLOCK;
    }
    first(blocks.remainder()).map(|p| at + p)
}

/// Bytes [`next_special`] looks at a word at a time before it checks blocks.
const SHORT: usize = 16;

/// The lowest bit of every byte of a word.
const LOW: u64 = u64::from_ne_bytes([0x01; 8]);
/// The highest bit of every byte of a word.
const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);

/// The first byte of `part` that needs an escape, eight bytes at a time.
///
/// `x - LOW & !x & HIGH` is non-zero exactly when some byte of `x` is zero,
/// and its lowest set bit is at the first such byte (the borrow can only
/// mark bytes above a true zero); the same with `0x20` in every byte finds
/// a byte below 0x20. Bytes of 0x80 and above never need an escape: `!word`
/// drops them.
#[inline]
fn first(part: &[u8]) -> Option<usize> {
    let mut words = part.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let mut le = [0u8; 8];
        le.copy_from_slice(word);
        let x = u64::from_le_bytes(le);
        let quote = x ^ (LOW * u64::from(b'"'));
        let backslash = x ^ (LOW * u64::from(b'\\'));
        let found = (x.wrapping_sub(LOW * 0x20)
            | quote.wrapping_sub(LOW) & !quote
            | backslash.wrapping_sub(LOW) & !backslash)
            & !x
            & HIGH;
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = words.remainder().iter().position(|&b| needs_escape(b));
    tail.map(|p| at + p)
}

/// Writes `text` as a JSON string, quotes included, exactly as serde_json does.
pub(crate) fn write_str<W: io::Write + ?Sized>(out: &mut W, text: &str) -> io::Result<()> {
    out.write_all(b"\"")?;
    write_str_contents(out, text)?;
    out.write_all(b"\"")
}

/// Writes the escaped contents of `text`, without the quotes.
pub(crate) fn write_str_contents<W: io::Write + ?Sized>(out: &mut W, text: &str) -> io::Result<()> {
    let bytes = text.as_bytes();
    // `bytes[clean_from..]` is not written yet. Clean text is crossed
    // [`SCAN_BLOCK`] bytes at a time; a wide block with an escape is taken
    // as [`BLOCK`]s, whose escapes are found from their bit masks.
    let mut clean_from = 0;
    let mut at = 0;
    let mut wide = bytes.chunks_exact(SCAN_BLOCK);
    for block in &mut wide {
        if let Ok(block) = <&[u8; SCAN_BLOCK]>::try_from(block) {
            if any_escape(block) {
                for half in block.chunks_exact(BLOCK) {
                    if let Ok(half) = <&[u8; BLOCK]>::try_from(half) {
                        clean_from = escape_block(out, bytes, clean_from, at, half)?;
                    }
                    at += BLOCK;
                }
                continue;
            }
        }
        at += SCAN_BLOCK;
    }
    let mut blocks = wide.remainder().chunks_exact(BLOCK);
    for block in &mut blocks {
        if let Ok(block) = <&[u8; BLOCK]>::try_from(block) {
            clean_from = escape_block(out, bytes, clean_from, at, block)?;
        }
        at += BLOCK;
    }
    clean_from = escape_each(out, bytes, clean_from, at, blocks.remainder())?;
    match bytes.get(clean_from..) {
        Some(run) if !run.is_empty() => out.write_all(run),
        _ => Ok(()),
    }
}

/// [`escape_each`] for a whole block (at `at` in `bytes`), from its bit mask.
#[inline(always)]
fn escape_block<W: io::Write + ?Sized>(
    out: &mut W,
    bytes: &[u8],
    mut clean_from: usize,
    at: usize,
    block: &[u8; BLOCK],
) -> io::Result<usize> {
    let mut mask = match any_escape(block) {
        true => escapes_in(block),
        false => 0,
    };
    while mask != 0 {
        let escape = at + mask.trailing_zeros() as usize;
        if let Some(run) = bytes.get(clean_from..escape).filter(|run| !run.is_empty()) {
            out.write_all(run)?;
        }
        write_escape(out, block[escape - at])?;
        clean_from = escape + 1;
        mask &= mask - 1;
    }
    Ok(clean_from)
}

/// Writes the clean run before each byte of `part` (at `at` in `bytes`) that
/// needs an escape, and the escape; returns where the unwritten rest starts.
/// Each escape is found eight bytes at a time ([`first`]): a short string,
/// or the tail of a long one, is mostly clean.
#[inline]
fn escape_each<W: io::Write + ?Sized>(
    out: &mut W,
    bytes: &[u8],
    mut clean_from: usize,
    at: usize,
    part: &[u8],
) -> io::Result<usize> {
    let mut from = 0;
    while let Some(i) = part.get(from..).and_then(first).map(|p| from + p) {
        let Some(&byte) = part.get(i) else { break };
        if let Some(run) = bytes.get(clean_from..at + i).filter(|run| !run.is_empty()) {
            out.write_all(run)?;
        }
        write_escape(out, byte)?;
        clean_from = at + i + 1;
        from = i + 1;
    }
    Ok(clean_from)
}

/// Writes the escape serde_json writes for `byte` (one that
/// [`needs_escape`]). Each `write_all` has a constant length, so it is two
/// or six stores rather than a call to `memcpy`.
#[inline]
fn write_escape<W: io::Write + ?Sized>(out: &mut W, byte: u8) -> io::Result<()> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x0c => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        _ => {
            let hex = |nibble: u8| HEX[usize::from(nibble & 0xf)];
            return out.write_all(&[b'\\', b'u', b'0', b'0', hex(byte >> 4), hex(byte)]);
        }
    };
    out.write_all(&[b'\\', short])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ours(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        write_str(&mut out, text).unwrap();
        out
    }

    #[test]
    fn escapes_every_byte_as_serde_json() {
        for b in 0u8..0x80 {
            let c = char::from(b);
            for text in [
                c.to_string(),
                format!("abcdefg{c}xyz"),
                format!("{c}{c}0123456789"),
            ] {
                assert_eq!(ours(&text), serde_json::to_vec(&text).unwrap(), "{b:#x}");
            }
        }
        for text in ["", "é", "\u{7f}", "\u{2028}", "😀\"", "a\\\"b\n\u{1}"] {
            assert_eq!(ours(text), serde_json::to_vec(text).unwrap());
        }
    }

    #[test]
    fn finds_an_escape_at_every_offset_of_a_word() {
        // Past 64 bytes: a whole wide block, then its remainder.
        for len in (0..40).chain([63, 64, 65, 96, 130]) {
            for at in 0..len {
                for special in ['"', '\\', '\u{0}', '\u{1f}', '\n'] {
                    let mut text: Vec<char> = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"
                        .chars()
                        .cycle()
                        .take(len)
                        .collect();
                    text[at] = special;
                    let text: String = text.into_iter().collect();
                    assert_eq!(ours(&text), serde_json::to_vec(&text).unwrap(), "{text:?}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn equals_serde_json_on_any_string(text in any::<String>()) {
            prop_assert_eq!(ours(&text), serde_json::to_vec(&text).unwrap());
        }

        #[test]
        fn equals_serde_json_on_json_like_strings(text in "[ -~\\n\\t\\r\\u{0}-\\u{1f}\"\\\\é😀]{0,200}") {
            prop_assert_eq!(ours(&text), serde_json::to_vec(&text).unwrap());
        }
    }
}
