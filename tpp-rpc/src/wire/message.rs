//! Envelopes: the request `{token, action, body, …}` and the response `{code, body}`.
//!
//! The envelope is parsed once; `body` is kept as the raw JSON text it was
//! sent as (a slice of the frame, no copy), so a typed action deserializes its
//! parameters straight from the frame's bytes and a pass-through action returns
//! the client's numbers untouched.
//!
//! **What a request costs, and what an unauthenticated one cannot make the
//! server do.** The envelope scan is the one pass that reads and validates
//! the whole payload: it classifies `token` and `action` and finds where
//! `body` and the extra fields are, but builds nothing of them (extra fields
//! are built when first read, after the token was accepted: `members`).
//! Its fast path (`fast_scan`, on the validator in `json/skip.rs`) crosses
//! strings 64 bytes at a time, faster than serde_json's scan; anything it
//! does not take is read by serde_json as before, with the same results and
//! messages. Only after the server has
//! checked the token and the action (`server/pipeline.rs`) does the
//! generated dispatch deserialize the typed parameters from the body's text:
//! that second read is the one that builds values, and a request whose token
//! was refused never gets to it, so an unauthenticated peer can make the
//! server validate bytes but never allocate a `Vec` or a tree from them.
//! A large request (from 64 KiB) is scanned while it arrives: the server's
//! request decoder (`server/request_codec.rs`) runs `fast_scan`'s resumable
//! `EnvelopeScan` over the bytes read so far after every read, so once the
//! last byte is in, little is left to scan; the request then only needs its
//! UTF-8 check.
//! Answers are written by [`crate::json::to_writer`] (serde_json's bytes,
//! strings escaped a block at a time) straight into the frame buffer, after
//! the room left for the length header.
//!
//! One module per job: [`Request`] and its fields (`request`), the envelope
//! scan that finds them (`envelope`), the server's answers (`answer`), a
//! client's request (`outgoing`) and a client's reading of a response
//! (`response`).

use std::ops::Range;

use bytestring::ByteString;

mod answer;
mod envelope;
mod fast_scan;
mod members;
mod outgoing;
mod request;
mod response;

pub(crate) use answer::{append_response, append_result};
pub use answer::{write_response, ActionResult, ErrorBody, ServiceErrorBody};
pub(crate) use envelope::Fields;
pub use envelope::{BadData, DeadlineField};
pub(crate) use fast_scan::EnvelopeScan;
pub(crate) use outgoing::OutgoingRequest;
pub use request::{ActionField, Request, TokenField};
pub use response::{BadResponse, Response};

/// Where `part`, borrowed from `text` by the parser, sits inside it.
fn str_range(text: &str, part: &str) -> Range<usize> {
    let start = part.as_ptr() as usize - text.as_ptr() as usize;
    start..start + part.len()
}

/// The JSON text at `range` of a payload; `"null"` when there is none.
fn json_slice<'a>(payload: &'a ByteString, range: &Option<Range<usize>>) -> &'a str {
    match range {
        Some(range) => validated_str(payload, range.clone()),
        None => "null",
    }
}

/// The text at `range` of a payload, where the parser gave `range` (a whole
/// JSON value or a string's contents, so it is on char boundaries).
fn validated_str(payload: &ByteString, range: Range<usize>) -> &str {
    payload.get(range).unwrap_or_default()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod python_tests;
