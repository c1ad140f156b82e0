//! JSON string escaping, eight bytes at a time.
//!
//! serde_json looks every byte of a string up in a table before it copies
//! the clean runs between escapes; for a long answer that loop is most of
//! the server's time. This finds the next byte that needs an escape (`"`,
//! `\` or a control byte below 0x20) a 64-bit word at a time, in safe Rust,
//! and copies the clean runs in one piece each. The bytes written are
//! serde_json's, escape for escape (tests compare both on any input).

use std::io;

/// The lowest bit of every byte of a word.
const LOW: u64 = u64::from_ne_bytes([0x01; 8]);
/// The highest bit of every byte of a word.
const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);

/// Marks (with its high bit, among possibly others after it) the first byte
/// of `word` that JSON must escape; 0 when there is none.
///
/// `x - LOW & !x & HIGH` is non-zero exactly when some byte of `x` is zero,
/// and its lowest set bit is at the first such byte (the borrow of the
/// subtraction can only mark bytes above a true zero). The same holds for
/// "below 0x20" with `0x20` in every byte instead of `LOW`.
#[inline(always)]
fn escapes_in(word: u64) -> u64 {
    let below_space = word.wrapping_sub(LOW * 0x20);
    let quote = word ^ (LOW * b'"' as u64);
    let backslash = word ^ (LOW * b'\\' as u64);
    (below_space | quote.wrapping_sub(LOW) & !quote | backslash.wrapping_sub(LOW) & !backslash)
        & !word
        & HIGH
}

/// Where the first byte of `bytes` that needs an escape is, from `from` on.
#[inline]
fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = bytes.get(from..)?;
    let mut chunks = rest.chunks_exact(8);
    let mut at = from;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let found = escapes_in(u64::from_le_bytes(word));
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| needs_escape(b))
        .map(|i| at + i)
}

#[inline(always)]
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
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
    let mut clean_from = 0;
    while let Some(at) = next_escape(bytes, clean_from) {
        if let Some(run) = bytes.get(clean_from..at).filter(|run| !run.is_empty()) {
            out.write_all(run)?;
        }
        // `next_escape` found a byte at `at`.
        let byte = bytes.get(at).copied().unwrap_or_default();
        out.write_all(escape_of(byte, &mut [0; 6]))?;
        clean_from = at + 1;
    }
    match bytes.get(clean_from..) {
        Some(run) if !run.is_empty() => out.write_all(run),
        _ => Ok(()),
    }
}

/// The escape serde_json writes for `byte` (one that [`needs_escape`]).
fn escape_of(byte: u8, room: &mut [u8; 6]) -> &[u8] {
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
            *room = [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ];
            return room;
        }
    };
    room[0] = b'\\';
    room[1] = short;
    &room[..2]
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
        for len in 0..40 {
            for at in 0..len {
                for special in ['"', '\\', '\u{0}', '\u{1f}', '\n'] {
                    let mut text: Vec<char> = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"
                        .chars()
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
