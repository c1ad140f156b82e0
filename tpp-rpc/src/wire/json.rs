//! Python's JSON: `NaN`, `Infinity`, `-Infinity` and integers of any size.
//!
//! Python's `json` module writes and reads the three non-finite literals and
//! integers of any size, and toxiccore peers send them. serde_json reads big
//! integers (as text they are plain JSON) but refuses the literals, so tpp
//! reads every message with serde_json first and, only when that fails, looks
//! for the literals: the common path stays one serde_json pass.
//!
//! What each kind of Rust value makes of them:
//!
//! | target | `NaN`, `Infinity`, `-Infinity` | `2**100` |
//! |---|---|---|
//! | [`Box<RawValue>`](RawValue), `&RawValue`, raw handlers ([`Request::body_json`](crate::Request::body_json)) | kept byte for byte | kept byte for byte |
//! | `f64`, `f32` (also in `Option`, `Vec`, structs…) | the float | the nearest float (as Python's `float()`) |
//! | `i128`, `u128` | error | the integer |
//! | `i64`, `u64` and smaller | error | error: out of range |
//! | `serde_json::Value`, untagged enums | error: `Value` has no NaN | error: it would be rounded (a request's body); rounded to an `f64` by [`from_str`] |
//!
//! A parameter that cannot hold the value gets code 1 with a message naming
//! it. Extra top-level request fields ([`Request::extra`](crate::Request::extra))
//! are `Value`s: a non-finite number there reads as `null`, as serde_json
//! writes a non-finite `f64`.
//!
//! Take `Box<RawValue>` for "any JSON" (an echo, a value stored and handed
//! back): it keeps the peer's text, and serializing it writes that text
//! again, so a Python client reads back `float('nan')` or the same integer.
//!
//! ```
//! use tpp_rpc::json::{self, RawValue};
//!
//! let any: Box<RawValue> = json::from_str(r#"{"x": NaN, "n": 1267650600228229401496703205376}"#)?;
//! assert_eq!(any.get(), r#"{"x": NaN, "n": 1267650600228229401496703205376}"#);
//!
//! let x: Vec<f64> = json::from_str("[1.5, NaN, -Infinity]")?;
//! assert!(x[1].is_nan() && x[2] == f64::NEG_INFINITY);
//!
//! let wide: i128 = json::from_str("1267650600228229401496703205376")?;
//! assert_eq!(wide, 1 << 100);
//!
//! #[derive(serde::Deserialize, Debug)]
//! struct Params { n: i64 }
//! let error = json::from_str::<Params>(r#"{"n": NaN}"#).unwrap_err();
//! assert_eq!(error.path(), Some("n"));
//! # Ok::<(), json::Error>(())
//! ```

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, DeserializeSeed};
pub use serde_json::value::RawValue;

mod escape;
mod ser;
pub(crate) mod skip;
mod wrap;

pub use ser::{to_vec, to_writer};
pub(crate) use wrap::{raw_of_checked, RawOnly, Seed, Wrap, NUMBER_TOKEN};

/// A value that could not be deserialized, and where in the JSON.
#[derive(Debug)]
pub struct Error {
    path: Option<String>,
    inner: serde_json::Error,
}

impl Error {
    /// Where the value that failed sits, as `key.key[index]` (the first key
    /// of a request body is the parameter); `None` for the whole document.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// What went wrong, without the path.
    pub fn inner(&self) -> &serde_json::Error {
        &self.inner
    }

    pub(crate) fn whole(inner: serde_json::Error) -> Self {
        Error { path: None, inner }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "at `{path}`: {}", self.inner),
            None => self.inner.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.inner)
    }
}

impl From<Error> for serde_json::Error {
    fn from(error: Error) -> Self {
        match error.path {
            None => error.inner,
            Some(_) => de::Error::custom(error),
        }
    }
}

/// Deserializes `T` from JSON as Python writes it (see the [module](self)
/// docs for what each type makes of `NaN` and big integers). A failure names
/// the path of the value that failed.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(_) => from_str_slow(text, PhantomData),
    }
}

/// [`from_str`] for text already read as JSON (a request's body, which the
/// envelope scan validated, or a default checked when the service was
/// built). A [`RawValue`] (`Box<RawValue>`, `&RawValue`, a transparent
/// newtype of one) is then the text itself, not read a second time, so a
/// raw body costs one pass over it; every other type is read by [`from_str`].
pub(crate) fn from_checked_str<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    match T::deserialize(RawOnly(text)) {
        Ok(value) => Ok(value),
        Err(_) => from_str(text),
    }
}

/// [`from_checked_str`] for a request's body: when the envelope scan saw a
/// number that may be an integer beyond 64 bits (`wide`), the body is read
/// the exact way, where such an integer goes only to a type that holds it
/// exactly and is refused, naming the parameter, by any other (a
/// `serde_json::Value` would round it to a float).
pub(crate) fn from_body_str<T: DeserializeOwned>(text: &str, wide: bool) -> Result<T, Error> {
    if !wide {
        return from_checked_str(text);
    }
    match T::deserialize(RawOnly(text)) {
        Ok(value) => Ok(value),
        Err(_) => from_str_slow(text, PhantomData),
    }
}

/// [`from_str`] with a seed (which must be cheap to clone: the slow path
/// runs it again).
pub(crate) fn from_str_seed<S>(text: &str, seed: S) -> Result<<S as SeedValue>::Out, Error>
where
    S: for<'de> DeserializeSeed<'de, Value = <S as SeedValue>::Out> + Clone + SeedValue,
{
    let mut de = serde_json::Deserializer::from_str(text);
    match seed
        .clone()
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
    {
        Ok(value) => Ok(value),
        Err(_) => from_str_slow(text, seed),
    }
}

/// The output type of a seed, named independently of the lifetime.
pub(crate) trait SeedValue {
    type Out;
}

impl<T> SeedValue for PhantomData<T> {
    type Out = T;
}

/// A `Value` from text already read as JSON (or Python's JSON): a
/// non-finite literal reads as `null`, as `Value` writes a non-finite float;
/// a value serde_json cannot build (nested deeper than its limit) is `null`.
pub(crate) fn value_lenient(text: &str) -> serde_json::Value {
    if let Ok(value) = serde_json::from_str(text) {
        return value;
    }
    let Some(sanitized) = replace_literals(text) else {
        return serde_json::Value::Null;
    };
    let literals = Literals {
        original: text,
        sanitized: &sanitized,
        lenient: true,
    };
    let mut de = serde_json::Deserializer::from_str(&sanitized);
    Seed {
        seed: PhantomData::<serde_json::Value>,
        literals,
    }
    .deserialize(&mut de)
    .unwrap_or(serde_json::Value::Null)
}

/// After serde_json refused `text` (or a value in it): again with the
/// literals read and the failing path tracked. Errors are rare and `NaN`
/// rarer, so the second pass costs nothing on the common path.
#[cold]
fn from_str_slow<S>(text: &str, seed: S) -> Result<<S as SeedValue>::Out, Error>
where
    S: for<'de> DeserializeSeed<'de, Value = <S as SeedValue>::Out> + SeedValue,
{
    let replaced = replace_literals(text);
    let sanitized = replaced.as_deref().unwrap_or(text);
    let literals = Literals {
        original: text,
        sanitized,
        lenient: false,
    };
    let mut de = serde_json::Deserializer::from_str(sanitized);
    let mut track = serde_path_to_error::Track::new();
    let tracked = serde_path_to_error::Deserializer::new(
        Wrap {
            de: &mut de,
            literals,
        },
        &mut track,
    );
    let value = seed.deserialize(tracked).map_err(|inner| {
        let path = track.path().to_string();
        // A path says which value has the wrong type; a syntax error is in
        // the text, wherever it is nested.
        // serde's unknown-field error names the key itself.
        let named = inner.is_data()
            && path != "."
            && !path.is_empty()
            && !inner.to_string().starts_with("unknown field");
        Error {
            path: named.then_some(path),
            inner,
        }
    })?;
    de.end().map_err(Error::whole)?;
    Ok(value)
}

/// One of Python's non-finite literals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Literal {
    NaN,
    Infinity,
    NegInfinity,
}

impl Literal {
    const ALL: [Literal; 3] = [Literal::NaN, Literal::Infinity, Literal::NegInfinity];

    fn text(self) -> &'static str {
        match self {
            Literal::NaN => "NaN",
            Literal::Infinity => "Infinity",
            Literal::NegInfinity => "-Infinity",
        }
    }

    fn value(self) -> f64 {
        match self {
            Literal::NaN => f64::NAN,
            Literal::Infinity => f64::INFINITY,
            Literal::NegInfinity => f64::NEG_INFINITY,
        }
    }

    /// The literal `bytes` start with.
    fn at(bytes: &[u8]) -> Option<Literal> {
        Literal::ALL
            .into_iter()
            .find(|lit| bytes.starts_with(lit.text().as_bytes()))
    }
}

/// A copy of `text` where each literal outside strings, and each integer
/// beyond 64 bits, is replaced by a JSON string of the same length (`NaN` →
/// `"a"`, `2**70` → `"000…0"`), so every offset stays valid; `None` when
/// there is none. A real string starts with `"` in `text` too, a stand-in
/// does not: [`Literals::at`] and [`Literals::integer_at`] tell them apart.
pub(crate) fn replace_literals(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out: Option<Vec<u8>> = None;
    let mut in_string = false;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if b.is_ascii_digit()
            || (b == b'-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let end = number_end(bytes, i);
            let number = &text[i..end];
            let integer = !number.contains(['.', 'e', 'E']);
            if integer && number.parse::<i64>().is_err() && number.parse::<u64>().is_err() {
                let copy = out.get_or_insert_with(|| bytes.to_vec());
                if let Some(slot) = copy.get_mut(i..end) {
                    slot.fill(b'0');
                    slot[0] = b'"';
                    slot[end - i - 1] = b'"';
                }
            }
            i = end;
            continue;
        } else if let Some(lit) = matches!(b, b'N' | b'I' | b'-')
            .then(|| Literal::at(&bytes[i..]))
            .flatten()
        {
            let len = lit.text().len();
            let copy = out.get_or_insert_with(|| bytes.to_vec());
            if let Some(slot) = copy.get_mut(i..i + len) {
                slot.fill(b'a');
                slot[0] = b'"';
                slot[len - 1] = b'"';
            }
            i += len;
            continue;
        }
        i += 1;
    }
    // Only ASCII bytes at ASCII positions changed: still UTF-8.
    out.and_then(|bytes| String::from_utf8(bytes).ok())
}

/// Where the number starting at `b[i]` ends (its characters, loosely).
fn number_end(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while b
        .get(i)
        .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        i += 1;
    }
    i
}

/// The original text and its copy with stand-ins (the same when there was
/// no literal).
#[derive(Clone, Copy)]
pub(crate) struct Literals<'de> {
    pub(crate) original: &'de str,
    pub(crate) sanitized: &'de str,
    /// Whether a literal read by a type that takes anything (`Value`) gives
    /// it a non-finite float (`Value` makes it `null`) instead of an error.
    pub(crate) lenient: bool,
}

impl<'de> Literals<'de> {
    /// Where `part` (borrowed from `sanitized`) starts.
    fn offset(&self, part: &str) -> Option<usize> {
        let offset = (part.as_ptr() as usize).checked_sub(self.sanitized.as_ptr() as usize)?;
        (offset + part.len() <= self.sanitized.len()).then_some(offset)
    }

    /// The literal a string borrowed from `sanitized` stands in for.
    pub(crate) fn at(&self, part: &str) -> Option<Literal> {
        let quote = self.offset(part)?.checked_sub(1)?;
        let original = self.original.as_bytes().get(quote..)?;
        match original.first() {
            Some(b'"') | None => None,
            Some(_) => Literal::at(original),
        }
    }

    /// The integer (beyond 64 bits) a string borrowed from `sanitized`
    /// stands in for: its original text.
    pub(crate) fn integer_at(&self, part: &str) -> Option<&'de str> {
        let quote = self.offset(part)?.checked_sub(1)?;
        let original = self.original.get(quote..quote + part.len() + 2)?;
        let digits = original.strip_prefix('-').unwrap_or(original);
        digits
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit())
            .then_some(original)
    }

    /// The original text at the place of `part` (borrowed from `sanitized`).
    fn original_of(&self, part: &'de str) -> &'de str {
        self.offset(part)
            .and_then(|start| self.original.get(start..start + part.len()))
            .unwrap_or(part)
    }
}

#[cfg(test)]
mod tests;
