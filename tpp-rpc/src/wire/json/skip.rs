//! A fast JSON validator: finds where a value ends, checking it exactly as
//! serde_json checks a value it skips, without building anything.
//!
//! Strings, most of a large body, are crossed 64 bytes at a time with the
//! same vectorized check as the escaper ([`super::escape`]); serde_json
//! crosses them 8 bytes at a time. The validator is a fast path only: it
//! never accepts what serde_json refuses (tests check this on generated
//! documents), and whatever it does not accept (invalid JSON, Python's
//! literals, nesting deeper than [`MAX_DEPTH`]) is read again by serde_json,
//! whose result and errors are then the answer.
//!
//! A [`Walk`] over bytes still arriving that stops inside a long string
//! goes on from where it stopped in the string, so each byte of a large
//! body is checked once, however many reads it comes in.

use super::escape::next_special;

/// Deepest nesting the fast path follows (a `u64` of object/array bits);
/// deeper values are left to serde_json.
pub(crate) const MAX_DEPTH: u32 = 64;

/// Numbers this long (`-9223372036854775808` and `18446744073709551615`
/// have 20 bytes) may be integers beyond 64 bits, which serde_json would
/// round to a float for a type that takes anything.
pub(crate) const WIDE_NUMBER: usize = 20;

/// JSON's whitespace, as serde_json skips it.
#[inline]
pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// A string starting at `b[i]` (its opening quote): where it ends (after the
/// closing quote) and whether it has escapes. `None` when it is not valid.
#[inline]
pub(crate) fn skip_string(b: &[u8], i: usize) -> Option<(usize, bool)> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    match cross_string(b, i + 1, false) {
        Crossed::Ended(end, escaped) => Some((end, escaped)),
        Crossed::Cut(..) | Crossed::Invalid => None,
    }
}

/// How far [`cross_string`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crossed {
    /// The string ends before this offset (after its closing quote); whether
    /// it has escapes.
    Ended(usize, bool),
    /// The bytes ran out: the string is valid up to this offset (which is
    /// never inside an escape), with escapes so far or not. An escape that
    /// is not valid also stops here: only the whole string tells it apart
    /// from one cut short.
    Cut(usize, bool),
    /// A control byte, which serde_json refuses in a string.
    Invalid,
}

/// The inside of a string from `b[at]` on (after its opening quote, or
/// where an earlier [`Crossed::Cut`] stopped).
#[inline]
fn cross_string(b: &[u8], mut at: usize, mut escaped: bool) -> Crossed {
    loop {
        let Some(special) = next_special(b, at) else {
            return Crossed::Cut(b.len(), escaped);
        };
        match b.get(special) {
            Some(b'"') => return Crossed::Ended(special + 1, escaped),
            Some(b'\\') => {
                escaped = true;
                match b.get(special + 1..).and_then(skip_escape) {
                    Some(len) => at = special + len,
                    None => return Crossed::Cut(special, escaped),
                }
            }
            Some(_) => return Crossed::Invalid,
            None => return Crossed::Cut(b.len(), escaped),
        }
    }
}

/// The length of the escape `\` + `rest`, when it is one JSON allows.
fn skip_escape(rest: &[u8]) -> Option<usize> {
    match rest.first()? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(2),
        // serde_json checks four hex digits here, not what they encode.
        b'u' => rest
            .get(1..5)
            .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
            .map(|_| 6),
        _ => None,
    }
}

/// A number starting at `b[i]`, by JSON's grammar: where it ends.
fn skip_number(b: &[u8], mut i: usize) -> Option<usize> {
    let digits = |b: &[u8], mut i: usize| {
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > start).then_some(i)
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    i = match b.get(i)? {
        // One leading zero, never followed by another digit.
        b'0' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => return None,
        b'0' => i + 1,
        b'1'..=b'9' => digits(b, i)?,
        _ => return None,
    };
    if b.get(i) == Some(&b'.') {
        i = digits(b, i + 1)?;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        i = digits(b, i)?;
    }
    Some(i)
}

/// A walk over one value that can stop where the bytes run out and go on
/// from there when more have come: a large request is scanned while it
/// arrives, not after.
///
/// It stops only at the start of a token (or of whitespace), so what it
/// keeps is where that is and the containers open around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Walk {
    at: usize,
    /// Whether a number of [`WIDE_NUMBER`] bytes or more was crossed: an
    /// integer there may not fit in 64 bits.
    wide: bool,
    /// When it stopped inside a long string (at `at`): how far the string
    /// was found valid, and whether it had escapes up to there. The next
    /// resume goes on from there instead of reading the string again.
    string: Option<(usize, bool)>,
    /// Bit `d`: whether the container at depth `d + 1` is an object.
    objects: u64,
    depth: u32,
    expect: Expect,
}

/// What a [`Walk`] reads next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A value.
    Value,
    /// An object's key and its `:`.
    Key,
    /// After a value in a container: `,` or the container's end.
    Next,
}

/// How far a [`Walk::resume`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The value ended just before this offset.
    Ended(usize),
    /// The bytes ran out first (or a token failed that more bytes could
    /// still complete).
    More,
    /// Not valid JSON, or nested deeper than [`MAX_DEPTH`].
    Invalid,
}

impl Walk {
    /// A walk over the value at `b[i]` (after any whitespace).
    pub(crate) fn at(i: usize) -> Walk {
        Walk {
            at: i,
            wide: false,
            string: None,
            objects: 0,
            depth: 0,
            expect: Expect::Value,
        }
    }

    /// Whether the value has a number of [`WIDE_NUMBER`] bytes or more,
    /// which may be an integer beyond 64 bits.
    pub(crate) fn saw_wide_number(&self) -> bool {
        self.wide
    }

    /// Where it stands: the start of the token it stopped at.
    pub(crate) fn position(&self) -> usize {
        self.at
    }

    /// Goes on over `b`, the bytes so far (`complete`: all there will be).
    /// After [`Step::More`], call it again with the same bytes and more.
    pub(crate) fn resume(&mut self, b: &[u8], complete: bool) -> Step {
        let Walk {
            at: mut i,
            wide: _,
            string,
            mut objects,
            mut depth,
            mut expect,
        } = *self;
        // Stops at the token starting at `$from`: the walk resumes there
        // (inside it, for a string crossed up to `$string`).
        macro_rules! stop {
            ($from:expr, $expect:expr) => {
                stop!($from, $expect, None)
            };
            ($from:expr, $expect:expr, $string:expr) => {{
                if complete {
                    return Step::Invalid;
                }
                *self = Walk {
                    at: $from,
                    wide: self.wide,
                    string: $string,
                    objects,
                    depth,
                    expect: $expect,
                };
                return Step::More;
            }};
        }
        // A token cut short by the end of `b` (or not valid: told apart
        // once `b` is complete).
        macro_rules! or_stop {
            ($scan:expr, $from:expr, $expect:expr) => {
                match $scan {
                    Some(found) => found,
                    None => stop!($from, $expect),
                }
            };
        }
        // Stopped inside a string (starting at `i`): on from where it got.
        if let Some((upto, escaped)) = string {
            match cross_string(b, upto, escaped) {
                Crossed::Ended(end, _) => {
                    i = end;
                    expect = Expect::Next;
                }
                Crossed::Cut(upto, escaped) => stop!(i, Expect::Value, Some((upto, escaped))),
                Crossed::Invalid => return Step::Invalid,
            }
        }
        'value: loop {
            match expect {
                Expect::Next => {}
                Expect::Key => {
                    i = or_stop!(skip_key(b, i), i, Expect::Key);
                    expect = Expect::Value;
                    continue 'value;
                }
                Expect::Value => {
                    i = skip_ws(b, i);
                    let start = i;
                    match *or_stop!(b.get(i), start, Expect::Value) {
                        open @ (b'{' | b'[') => {
                            let object = open == b'{';
                            let close = if object { b'}' } else { b']' };
                            i = skip_ws(b, i + 1);
                            if *or_stop!(b.get(i), start, Expect::Value) == close {
                                i += 1;
                            } else {
                                if depth == MAX_DEPTH {
                                    return Step::Invalid;
                                }
                                objects = objects & !(1 << depth) | u64::from(object) << depth;
                                depth += 1;
                                expect = if object { Expect::Key } else { Expect::Value };
                                continue 'value;
                            }
                        }
                        b'"' => match cross_string(b, i + 1, false) {
                            Crossed::Ended(end, _) => i = end,
                            Crossed::Cut(upto, escaped) => {
                                stop!(start, Expect::Value, Some((upto, escaped)))
                            }
                            Crossed::Invalid => return Step::Invalid,
                        },
                        b't' => i = or_stop!(literal(b, i, b"true"), start, Expect::Value),
                        b'f' => i = or_stop!(literal(b, i, b"false"), start, Expect::Value),
                        b'n' => i = or_stop!(literal(b, i, b"null"), start, Expect::Value),
                        b'-' | b'0'..=b'9' => {
                            i = or_stop!(skip_number(b, i), start, Expect::Value);
                            // More digits may still come.
                            if i == b.len() && !complete {
                                stop!(start, Expect::Value);
                            }
                            if i - start >= WIDE_NUMBER {
                                self.wide = true;
                            }
                        }
                        _ => return Step::Invalid,
                    }
                }
            }
            // After a value: the next item of its container, or the container's end.
            loop {
                if depth == 0 {
                    return Step::Ended(i);
                }
                let object = objects >> (depth - 1) & 1 == 1;
                i = skip_ws(b, i);
                match (*or_stop!(b.get(i), i, Expect::Next), object) {
                    (b',', true) => {
                        i = skip_ws(b, i + 1);
                        expect = Expect::Key;
                        continue 'value;
                    }
                    (b',', false) => {
                        i += 1;
                        expect = Expect::Value;
                        continue 'value;
                    }
                    (b'}', true) | (b']', false) => {
                        depth -= 1;
                        i += 1;
                    }
                    _ => return Step::Invalid,
                }
            }
        }
    }
}

/// Whether `text`, one JSON value, may hold an integer beyond 64 bits: a
/// long number, or a value the fast walk does not read (then maybe).
pub(crate) fn may_be_wide(text: &str) -> bool {
    let mut walk = Walk::at(0);
    match walk.resume(text.as_bytes(), true) {
        Step::Ended(_) => walk.saw_wide_number(),
        Step::More | Step::Invalid => true,
    }
}

/// An object's key and its `:`, starting at `b[i]`: where its value starts.
fn skip_key(b: &[u8], i: usize) -> Option<usize> {
    let (end, _) = skip_string(b, i)?;
    let colon = skip_ws(b, end);
    (b.get(colon) == Some(&b':')).then_some(colon + 1)
}

fn literal(b: &[u8], i: usize, text: &[u8]) -> Option<usize> {
    b.get(i..)?.starts_with(text).then_some(i + text.len())
}

#[cfg(test)]
mod tests;
