//! The envelope scan's fast path: the same fields as [`Fields::scan`],
//! found by [`crate::json::skip`] (strings crossed 64 bytes at a time)
//! instead of serde_json's deserializer.
//!
//! It takes only what it can read exactly as serde_json would: a top-level
//! object whose keys have no escapes, whose `token` and `action` are
//! strings without escapes or `null`, and whose values are valid JSON no
//! deeper than [`crate::json::skip::MAX_DEPTH`]. Anything else (an error,
//! Python's literals, an escaped key, a number as a token…) returns `None`
//! and [`Fields::scan`] reads the payload again, so its results and its
//! error messages stay the answer for those.

use std::ops::Range;

use super::envelope::{DeadlineField, Field, Fields};
use crate::wire::fields::{DEADLINE_FIELD, KEEP_ALIVE_FIELD, RESERVED_PREFIX};
use crate::wire::json::skip::{skip_string, skip_ws, Step, Walk};

impl Fields {
    /// The envelope of `text`, when the fast path can read it.
    pub(super) fn scan_fast(text: &str) -> Option<Fields> {
        let mut scan = EnvelopeScan::new();
        scan.advance(text.as_bytes(), true);
        scan.finish()
    }
}

/// The fast envelope scan, able to stop where the bytes run out and to go
/// on when more have come: the server's request decoder runs it over a large
/// request while the request arrives, so that little of it is left to scan
/// once the last byte is in (`server/request_codec.rs`). Over a whole
/// payload at once it is
/// [`Fields::scan_fast`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EnvelopeScan {
    fields: Fields,
    at: Scan,
    /// Where it last stopped (the start of a token cut short) and how many
    /// bytes it had then: it goes on only once what lies past that point
    /// has doubled, so a long token is not read again at every read.
    stopped: Option<(usize, usize)>,
}

/// Where an [`EnvelopeScan`] stands.
#[derive(Debug, Clone, PartialEq)]
enum Scan {
    /// Before the `{`.
    Open,
    /// At a key (the first one, or one after a `,`).
    Key(usize),
    /// Inside the value of the key at `key` (in the payload), which starts at `start`.
    Value {
        key: Range<usize>,
        start: usize,
        walk: Walk,
    },
    /// After a value: `,` or the `}`.
    Next(usize),
    /// After the `}`: whitespace only, to the end.
    Trailer(usize),
    /// Read whole: the fields are the envelope's.
    Done,
    /// Not for the fast path: the full scan reads the payload.
    GaveUp,
}

impl EnvelopeScan {
    pub(crate) fn new() -> Self {
        Self {
            fields: Fields::none(),
            at: Scan::Open,
            stopped: None,
        }
    }

    /// Scans on over `b`, the payload's bytes so far (`complete`: all of them).
    pub(crate) fn advance(&mut self, b: &[u8], complete: bool) {
        if let Some((at, had)) = self.stopped {
            if !complete && b.len() - at < 2 * (had - at) {
                return;
            }
        }
        self.stopped = None;
        loop {
            // Where a token cut short by the end of `b` started.
            let cut_at = match &mut self.at {
                Scan::Done | Scan::GaveUp => return,
                Scan::Open => {
                    let i = skip_ws(b, 0);
                    match b.get(i) {
                        Some(b'{') => {
                            // `{}` is refused by the full scan, with its message.
                            self.at = Scan::Key(skip_ws(b, i + 1));
                            continue;
                        }
                        Some(_) => return self.give_up(),
                        None => i,
                    }
                }
                Scan::Key(i) => {
                    let i = skip_ws(b, *i);
                    match key_at(b, i) {
                        Some(Ok((key, start))) => {
                            self.at = Scan::Value {
                                key,
                                start,
                                walk: Walk::at(start),
                            };
                            continue;
                        }
                        Some(Err(())) => return self.give_up(),
                        None => i,
                    }
                }
                Scan::Value { key, start, walk } => match walk.resume(b, complete) {
                    Step::Ended(end) => {
                        let (key, start) = (key.clone(), *start);
                        let wide = walk.saw_wide_number();
                        if self.member(b, key, start..end, wide).is_none() {
                            return self.give_up();
                        }
                        self.at = Scan::Next(end);
                        continue;
                    }
                    Step::More => walk.position(),
                    Step::Invalid => return self.give_up(),
                },
                Scan::Next(i) => {
                    let i = skip_ws(b, *i);
                    match b.get(i) {
                        Some(b',') => {
                            self.at = Scan::Key(i + 1);
                            continue;
                        }
                        Some(b'}') => {
                            self.at = Scan::Trailer(i + 1);
                            continue;
                        }
                        Some(_) => return self.give_up(),
                        None => i,
                    }
                }
                Scan::Trailer(i) => {
                    let i = skip_ws(b, *i);
                    match (i == b.len(), complete) {
                        (true, true) => {
                            self.at = Scan::Done;
                            return;
                        }
                        (true, false) => i,
                        (false, _) => return self.give_up(),
                    }
                }
            };
            if complete {
                return self.give_up();
            }
            self.stopped = Some((cut_at, b.len()));
            return;
        }
    }

    /// The envelope, once [`advance`](Self::advance) has read it whole.
    pub(crate) fn finish(self) -> Option<Fields> {
        (self.at == Scan::Done).then_some(self.fields)
    }

    fn give_up(&mut self) {
        self.at = Scan::GaveUp;
    }

    /// Takes the member `key` (a range of the payload, without its quotes)
    /// whose value is at `value`. `None`: left to the full scan.
    fn member(
        &mut self,
        b: &[u8],
        key: Range<usize>,
        value: Range<usize>,
        wide: bool,
    ) -> Option<()> {
        let fields = &mut self.fields;
        let key_range = key.clone();
        // Compared as bytes (the key has no escapes): only a key the
        // envelope does not know is checked for UTF-8, to be noted.
        let key = b.get(key)?;
        let (start, end) = (value.start, value.end);
        // A repeated key: the last one wins, as in the full scan.
        match key {
            b"token" => fields.token = string_field(b, start, end)?,
            b"action" => fields.action = string_field(b, start, end)?,
            b"body" => {
                fields.body = Some(value);
                fields.body_wide = wide;
            }
            // The full scan reads other values (a number may be out of
            // range for it): left to it.
            _ if key == KEEP_ALIVE_FIELD.as_bytes() => {
                fields.keep_alive = match &b[start..end] {
                    b"true" => true,
                    b"false" => false,
                    _ => return None,
                }
            }
            // An integer; anything else is left to the full scan.
            _ if key == DEADLINE_FIELD.as_bytes() => {
                fields.deadline = DeadlineField::Millis(integer(&b[start..end])?)
            }
            // Located only: built when read, after the token was accepted.
            _ => match std::str::from_utf8(key).ok()? {
                k if k.starts_with(RESERVED_PREFIX) => fields.reserved.note(key_range, value),
                _ => fields.extras.note(key_range, value),
            },
        }
        Some(())
    }
}

/// The JSON integer `b` (`-?[0-9]+`), saturated to 64 bits as the full
/// scan saturates it; `None` for anything else.
fn integer(b: &[u8]) -> Option<i64> {
    let (negative, digits) = match b {
        [b'-', digits @ ..] => (true, digits),
        digits => (false, digits),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: i64 = 0;
    for d in digits {
        let d = i64::from(d - b'0');
        n = n.saturating_mul(10);
        n = match negative {
            true => n.saturating_sub(d),
            false => n.saturating_add(d),
        };
    }
    Some(n)
}

/// A key without escapes at `b[i]`, its `:` and the value's first byte
/// after it: the key's inside and where the value starts. `None` when the
/// bytes ran out first; `Err` when it is not such a key.
pub(super) fn key_at(b: &[u8], i: usize) -> Option<Result<(Range<usize>, usize), ()>> {
    let (key_end, escaped) = match skip_string(b, i) {
        Some(found) => found,
        // A string cut short, or not a string (then it is an error).
        None if b.get(i).is_some_and(|c| *c != b'"') => return Some(Err(())),
        None => return None,
    };
    if escaped {
        return Some(Err(()));
    }
    let colon = skip_ws(b, key_end);
    match b.get(colon) {
        Some(b':') => {}
        Some(_) => return Some(Err(())),
        None => return None,
    }
    let start = skip_ws(b, colon + 1);
    b.get(start)?;
    Some(Ok((i + 1..key_end - 1, start)))
}

/// A `token` or `action` value the fast path classifies itself: `null`, or
/// a string without escapes (empty: missing, as Python's `not token`).
fn string_field(b: &[u8], start: usize, end: usize) -> Option<Field> {
    match b.get(start..end)? {
        b"null" | b"\"\"" => Some(Field::Missing),
        [b'"', inner @ .., b'"'] if !inner.contains(&b'\\') => Some(Field::At(start + 1..end - 1)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
