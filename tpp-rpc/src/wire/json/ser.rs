//! A JSON serializer that writes serde_json's compact output byte for byte,
//! with a faster string escaper ([`super::escape`]).
//!
//! serde_json's serializer cannot take another escaper (its string loop is
//! not behind its `Formatter`), so this one writes the punctuation and the
//! strings itself and hands every other scalar (numbers, floats, bools,
//! bytes, `null`) and every [`RawValue`](super::RawValue) to serde_json's
//! own serializer: numbers and raw JSON come out exactly as serde_json
//! writes them, and errors are serde_json's.

use std::io;

use serde::ser::{self, Serialize};

use super::escape;

type Error = serde_json::Error;

/// The prefix of the struct names serde_json serializes its own types
/// through: `RawValue` (`…::RawValue`) and, with its `arbitrary_precision`
/// feature, every `Number` (`…::Number`). Such a struct is a one-field
/// envelope that only serde_json's serializer knows how to write, so it is
/// handed to it whole, whatever comes after the prefix.
const SERDE_JSON_PRIVATE: &str = "$serde_json::private::";

/// Serializes `value` as compact JSON into `out`: the bytes
/// `serde_json::to_writer` writes, with strings escaped faster (what tpp's
/// server writes answers with).
///
/// ```
/// let mut out = b"prefix ".to_vec();
/// tpp_rpc::json::to_writer(&mut out, &("a\"b", 1.5))?;
/// assert_eq!(out, br#"prefix ["a\"b",1.5]"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn to_writer<W: io::Write, T: Serialize + ?Sized>(out: W, value: &T) -> Result<(), Error> {
    value.serialize(&mut Writer { out })
}

/// Serializes `value` as compact JSON: the bytes `serde_json::to_vec` gives.
///
/// ```
/// let value = serde_json::json!({"text": "line\n", "n": [1, 2]});
/// assert_eq!(tpp_rpc::json::to_vec(&value)?, serde_json::to_vec(&value)?);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(128);
    to_writer(&mut out, value)?;
    Ok(out)
}

/// The serializer of [`to_writer`].
struct Writer<W> {
    out: W,
}

impl<W: io::Write> Writer<W> {
    fn raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.out.write_all(bytes).map_err(Error::io)
    }

    fn string(&mut self, text: &str) -> Result<(), Error> {
        escape::write_str(&mut self.out, text).map_err(Error::io)
    }

    /// serde_json's own serializer, writing to the same place.
    fn json(&mut self) -> serde_json::Serializer<&mut W> {
        serde_json::Serializer::new(&mut self.out)
    }

    /// `{"variant":`, the start of an externally tagged enum's value.
    fn open_variant(&mut self, variant: &str) -> Result<(), Error> {
        self.raw(b"{")?;
        self.string(variant)?;
        self.raw(b":")
    }
}

macro_rules! to_serde_json {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        #[inline]
        fn $method(self, value: $ty) -> Result<(), Error> {
            self.json().$method(value)
        }
    )*};
}

impl<'a, W: io::Write> ser::Serializer for &'a mut Writer<W> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a, W>;
    type SerializeTuple = Compound<'a, W>;
    type SerializeTupleStruct = Compound<'a, W>;
    type SerializeTupleVariant = Compound<'a, W>;
    type SerializeMap = Compound<'a, W>;
    type SerializeStruct = Compound<'a, W>;
    type SerializeStructVariant = Compound<'a, W>;

    to_serde_json! {
        serialize_bool(bool),
        serialize_i8(i8), serialize_i16(i16), serialize_i32(i32), serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8), serialize_u16(u16), serialize_u32(u32), serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32), serialize_f64(f64),
        serialize_bytes(&[u8]),
    }

    fn serialize_char(self, value: char) -> Result<(), Error> {
        self.string(value.encode_utf8(&mut [0; 4]))
    }

    #[inline]
    fn serialize_str(self, value: &str) -> Result<(), Error> {
        self.string(value)
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.raw(b"null")
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.raw(b"null")
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.raw(b"null")
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.string(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.open_variant(variant)?;
        value.serialize(&mut *self)?;
        self.raw(b"}")
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a, W>, Error> {
        Compound::open(self, b"[", b"]", len, b"")
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, W>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'a, W>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, W>, Error> {
        self.open_variant(variant)?;
        Compound::open(self, b"[", b"]", Some(len), b"}")
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a, W>, Error> {
        Compound::open(self, b"{", b"}", len, b"")
    }

    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Compound<'a, W>, Error> {
        match name.starts_with(SERDE_JSON_PRIVATE) {
            true => Ok(Compound::SerdeJson { ser: self, name }),
            false => self.serialize_map(Some(len)),
        }
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, W>, Error> {
        self.open_variant(variant)?;
        Compound::open(self, b"{", b"}", Some(len), b"}")
    }
}

/// Where a sequence or map is: serde_json writes `[]`/`{}` at once when told
/// the length is 0.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Empty,
    First,
    Rest,
}

/// An array, object or enum variant being written.
enum Compound<'a, W> {
    Open {
        ser: &'a mut Writer<W>,
        state: State,
        close: &'static [u8],
        /// What follows `close`: `}` after a variant's value.
        then: &'static [u8],
    },
    /// One of serde_json's own types (a [`RawValue`](super::RawValue), an
    /// arbitrary-precision number): serde_json writes it.
    SerdeJson {
        ser: &'a mut Writer<W>,
        name: &'static str,
    },
}

impl<'a, W: io::Write> Compound<'a, W> {
    fn open(
        ser: &'a mut Writer<W>,
        open: &[u8],
        close: &'static [u8],
        len: Option<usize>,
        then: &'static [u8],
    ) -> Result<Self, Error> {
        ser.raw(open)?;
        let state = match len {
            Some(0) => {
                ser.raw(close)?;
                State::Empty
            }
            _ => State::First,
        };
        Ok(Compound::Open {
            ser,
            state,
            close,
            then,
        })
    }

    /// The writer, after the `,` that separates this item from the previous.
    fn next_item(&mut self) -> Result<&mut Writer<W>, Error> {
        match self {
            Compound::Open { ser, state, .. } => {
                if *state != State::First {
                    ser.raw(b",")?;
                }
                *state = State::Rest;
                Ok(ser)
            }
            Compound::SerdeJson { ser, .. } => Ok(ser),
        }
    }

    fn close(self) -> Result<(), Error> {
        match self {
            Compound::Open {
                ser,
                state,
                close,
                then,
            } => {
                if state != State::Empty {
                    ser.raw(close)?;
                }
                ser.raw(then)
            }
            Compound::SerdeJson { .. } => Ok(()),
        }
    }

    fn entry<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        if let Compound::SerdeJson { ser, name } = self {
            // serde_json's own path writes the raw text or number as it is.
            let mut json = ser.json();
            let mut raw = ser::Serializer::serialize_struct(&mut json, name, 1)?;
            ser::SerializeStruct::serialize_field(&mut raw, key, value)?;
            return ser::SerializeStruct::end(raw);
        }
        let ser = self.next_item()?;
        ser.string(key)?;
        ser.raw(b":")?;
        value.serialize(ser)
    }
}

impl<W: io::Write> ser::SerializeSeq for Compound<'_, W> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(self.next_item()?)
    }

    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

macro_rules! like_seq {
    ($($trait:ident::$method:ident),* $(,)?) => {$(
        impl<W: io::Write> ser::$trait for Compound<'_, W> {
            type Ok = ();
            type Error = Error;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
                ser::SerializeSeq::serialize_element(self, value)
            }

            fn end(self) -> Result<(), Error> {
                self.close()
            }
        }
    )*};
}

like_seq! {
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
}

impl<W: io::Write> ser::SerializeMap for Compound<'_, W> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        key.serialize(MapKey {
            ser: self.next_item()?,
        })
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        match self {
            Compound::Open { ser, .. } => {
                ser.raw(b":")?;
                value.serialize(&mut **ser)
            }
            Compound::SerdeJson { .. } => {
                Err(ser::Error::custom("serde_json's own types have no map"))
            }
        }
    }

    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

macro_rules! like_struct {
    ($($trait:ident),*) => {$(
        impl<W: io::Write> ser::$trait for Compound<'_, W> {
            type Ok = ();
            type Error = Error;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Error> {
                self.entry(key, value)
            }

            fn end(self) -> Result<(), Error> {
                self.close()
            }
        }
    )*};
}

like_struct!(SerializeStruct, SerializeStructVariant);

/// A map key. Strings (nearly every key) are escaped here; any other key is
/// written by serde_json as the only key of a map, whose `{` and `:0}` are
/// then cut off, so its text and its errors ("key must be a string") are
/// serde_json's.
struct MapKey<'a, W> {
    ser: &'a mut Writer<W>,
}

impl<W: io::Write> MapKey<'_, W> {
    fn by_serde_json<T: Serialize + ?Sized>(self, key: &T) -> Result<(), Error> {
        struct OnlyKey<'k, K: ?Sized>(&'k K);

        impl<K: Serialize + ?Sized> Serialize for OnlyKey<'_, K> {
            fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use ser::SerializeMap;
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry(self.0, &0)?;
                map.end()
            }
        }

        let mut text = Vec::new();
        serde_json::to_writer(&mut text, &OnlyKey(key))?;
        let key = text
            .get(1..text.len().saturating_sub(3))
            .unwrap_or_default();
        self.ser.raw(key)
    }
}

macro_rules! key_by_serde_json {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        fn $method(self, value: $ty) -> Result<(), Error> {
            self.by_serde_json(&value)
        }
    )*};
}

impl<W: io::Write> ser::Serializer for MapKey<'_, W> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    #[inline]
    fn serialize_str(self, value: &str) -> Result<(), Error> {
        self.ser.string(value)
    }

    fn serialize_char(self, value: char) -> Result<(), Error> {
        self.ser.string(value.encode_utf8(&mut [0; 4]))
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.ser.string(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    key_by_serde_json! {
        serialize_bool(bool),
        serialize_i8(i8), serialize_i16(i16), serialize_i32(i32), serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8), serialize_u16(u16), serialize_u32(u32), serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32), serialize_f64(f64),
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_none(self) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit(self) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_must_be_a_string())
    }
}

/// serde_json's error for a key it cannot write (its text: "key must be a string").
fn key_must_be_a_string() -> Error {
    serde_json::to_vec(&std::collections::BTreeMap::from([((), 0)]))
        .err()
        .unwrap_or_else(|| ser::Error::custom("key must be a string"))
}

#[cfg(test)]
mod tests;
