//! Support for the code `#[toxic_service]` generates (re-exported in
//! `__private`, not a public API).
//!
//! Every use of a user's type that needs serde or [`ToxicError`] goes through
//! a [`Probe`]: with a concrete type, method resolution picks the real
//! implementation (`Via*` traits, which need the trait) or, when the type
//! lacks it, a fallback (`Lacks*` traits, one autoref further) that compiles
//! anyway. The macro also emits one explicit check per type, spanned on it,
//! so a type that is not serde, or an error that is not `ToxicError`, gives
//! one error at that type instead of one per use deep inside generated code.
//! The fallbacks therefore never end up in a program that compiles.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};

use crate::client::{action_result, CallError, ClientError, ResponseStream};
use crate::service::stream::ItemStream;
use crate::wire::message::Response;
use crate::wire::{ActionError, ErrorData, ToxicError};

/// Selects an implementation for `T` by autoref: `(&Probe::<T>::NEW).method()`.
pub struct Probe<T: ?Sized>(PhantomData<fn() -> Box<T>>);

impl<T: ?Sized> Probe<T> {
    /// The probe.
    pub const NEW: Self = Probe(PhantomData);
}

/// Stands in for a value whose type is not `Serialize` (never sent: that
/// program does not compile).
pub struct Unserializable;

impl Serialize for Unserializable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this type does not implement Serialize",
        ))
    }
}

fn undecodable() -> serde_json::Error {
    serde::de::Error::custom("this type does not implement Deserialize")
}

/// Decoding, for `T: DeserializeOwned`.
pub trait ViaDeserialize<T> {
    /// Parses JSON text as Python writes it (`crate::json`). The text is
    /// already checked JSON: a request's body or a default the macro checked.
    fn decode_str(&self, text: &str) -> Result<T, crate::wire::json::Error>;
    /// [`decode_str`](Self::decode_str) for a request's body; `wide`: it may
    /// hold an integer beyond 64 bits, which only an exact type may take.
    fn decode_body_str(&self, text: &str, wide: bool) -> Result<T, crate::wire::json::Error>;
    /// `body[action]` of a response.
    fn decode_result(&self, response: &Response, action: &str) -> Result<T, ClientError>;
    /// The whole body of a response.
    fn decode_body(&self, response: &Response, action: &str) -> Result<T, ClientError>;
}

impl<T: DeserializeOwned> ViaDeserialize<T> for Probe<T> {
    fn decode_str(&self, text: &str) -> Result<T, crate::wire::json::Error> {
        crate::wire::json::from_checked_str(text)
    }
    fn decode_body_str(&self, text: &str, wide: bool) -> Result<T, crate::wire::json::Error> {
        crate::wire::json::from_body_str(text, wide)
    }
    fn decode_result(&self, response: &Response, action: &str) -> Result<T, ClientError> {
        action_result(response, action)
    }
    fn decode_body(&self, response: &Response, action: &str) -> Result<T, ClientError> {
        response.body().map_err(|source| ClientError::Decode {
            action: action.to_owned(),
            source,
        })
    }
}

/// The fallback of [`ViaDeserialize`].
pub trait LacksDeserialize<T> {
    /// Fails.
    fn decode_str(&self, _: &str) -> Result<T, crate::wire::json::Error> {
        Err(crate::wire::json::Error::whole(undecodable()))
    }
    /// Fails.
    fn decode_body_str(&self, _: &str, _: bool) -> Result<T, crate::wire::json::Error> {
        Err(crate::wire::json::Error::whole(undecodable()))
    }
    /// Fails.
    fn decode_result(&self, _: &Response, action: &str) -> Result<T, ClientError> {
        Err(ClientError::Decode {
            action: action.to_owned(),
            source: undecodable(),
        })
    }
    /// Fails.
    fn decode_body(&self, response: &Response, action: &str) -> Result<T, ClientError> {
        self.decode_result(response, action)
    }
}

impl<T> LacksDeserialize<T> for &Probe<T> {}

/// Encoding, for `T: Serialize`.
pub trait ViaSerialize<T: ?Sized> {
    /// The value itself.
    fn encode<'a>(&self, value: &'a T) -> &'a T;
}

impl<T: Serialize + ?Sized> ViaSerialize<T> for Probe<T> {
    fn encode<'a>(&self, value: &'a T) -> &'a T {
        value
    }
}

/// The fallback of [`ViaSerialize`].
pub trait LacksSerialize<T: ?Sized> {
    /// A stand-in.
    fn encode(&self, _: &T) -> &'static Unserializable {
        &Unserializable
    }
}

impl<T: ?Sized> LacksSerialize<T> for &Probe<T> {}

/// Stream items, for `T: Serialize`.
pub trait ViaSerializeItems<T> {
    /// The items themselves.
    fn encode_items(&self, items: ItemStream<T>) -> ItemStream<T>;
}

impl<T: Serialize> ViaSerializeItems<T> for Probe<T> {
    fn encode_items(&self, items: ItemStream<T>) -> ItemStream<T> {
        items
    }
}

/// The fallback of [`ViaSerializeItems`].
pub trait LacksSerializeItems<T> {
    /// No items.
    fn encode_items(&self, _: ItemStream<T>) -> ItemStream<Unserializable> {
        ItemStream::iter(Vec::new())
    }
}

impl<T> LacksSerializeItems<T> for &Probe<T> {}

/// Service errors, for `E: ToxicError`.
pub trait ViaToxicError<E> {
    /// The code (at least 1), message and data sent for `error`.
    fn error_answer(&self, error: E) -> ActionError;
    /// A client error, decoded into `E` when `E` knows the variant or the code.
    fn call_error(&self, error: ClientError) -> CallError<E>;
}

impl<E: ToxicError> ViaToxicError<E> for Probe<E> {
    fn error_answer(&self, error: E) -> ActionError {
        ActionError::from_error(&error)
    }
    fn call_error(&self, error: ClientError) -> CallError<E> {
        CallError::from(error)
    }
}

/// The fallback of [`ViaToxicError`].
pub trait LacksToxicError<E> {
    /// Code 1, no message.
    fn error_answer(&self, _: E) -> ActionError {
        ActionError::new(1, "")
    }
    /// Not decoded.
    fn call_error(&self, error: ClientError) -> CallError<E> {
        CallError::Client(error)
    }
}

impl<E> LacksToxicError<E> for &Probe<E> {}

/// A unit variant's data, or one whose fields are `fields`.
pub fn error_data(variant: &str, fields: Option<serde_json::Value>) -> ErrorData {
    ErrorData::new(variant, fields)
}

/// A struct variant's data: its fields by name.
pub fn error_record(variant: &str, fields: Vec<(&str, serde_json::Value)>) -> ErrorData {
    let fields = fields
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    ErrorData::new(variant, Some(serde_json::Value::Object(fields)))
}

/// A tuple variant's data: its fields in order.
pub fn error_tuple(variant: &str, fields: Vec<serde_json::Value>) -> ErrorData {
    ErrorData::new(variant, Some(serde_json::Value::Array(fields)))
}

/// A field of an error variant as JSON, for `T: Serialize`.
pub trait ViaFieldOut<T: ?Sized> {
    /// The field's JSON, `None` when it does not serialize.
    fn field_out(&self, value: &T) -> Option<serde_json::Value>;
}

impl<T: Serialize + ?Sized> ViaFieldOut<T> for Probe<T> {
    fn field_out(&self, value: &T) -> Option<serde_json::Value> {
        serde_json::to_value(value).ok()
    }
}

/// The fallback of [`ViaFieldOut`]: a field that cannot be sent (an `io::Error` source), so
/// the error travels as its message alone.
pub trait LacksFieldOut<T: ?Sized> {
    /// None.
    fn field_out(&self, _: &T) -> Option<serde_json::Value> {
        None
    }
}

impl<T: ?Sized> LacksFieldOut<T> for &Probe<T> {}

/// A field of an error variant from JSON, for `T: DeserializeOwned`.
pub trait ViaFieldIn<T> {
    /// The field, `None` when absent or not a `T`.
    fn field_in(&self, value: Option<&serde_json::Value>) -> Option<T>;
}

impl<T: DeserializeOwned> ViaFieldIn<T> for Probe<T> {
    fn field_in(&self, value: Option<&serde_json::Value>) -> Option<T> {
        T::deserialize(value?).ok()
    }
}

/// The fallback of [`ViaFieldIn`]: a field that cannot be rebuilt from JSON.
pub trait LacksFieldIn<T> {
    /// None.
    fn field_in(&self, _: Option<&serde_json::Value>) -> Option<T> {
        None
    }
}

impl<T> LacksFieldIn<T> for &Probe<T> {}

/// The error type of a method's `Result` (for `Result<T>` aliases).
pub trait ResultType {
    /// `T`.
    type Ok;
    /// `E`.
    type Err;
}

impl<T, E> ResultType for Result<T, E> {
    type Ok = T;
    type Err = E;
}

/// Typed items of a client stream, decoded with `decode` and with server
/// errors turned into `E` by `error`.
pub fn typed_items<T, E>(
    stream: ResponseStream,
    decode: fn(&Response) -> Result<T, ClientError>,
    error: fn(ClientError) -> CallError<E>,
) -> crate::client::CallStream<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    use futures_util::StreamExt;
    Box::pin(stream.map(move |item| item.and_then(|r| decode(&r)).map_err(error)))
}

/// [`Client::request_stream_ack`](crate::Client::request_stream_ack) with the
/// acknowledgement decoded by `decode`.
pub async fn request_stream_ack<B: Serialize + ?Sized, A>(
    client: &crate::Client,
    action: &str,
    body: &B,
    item_timeout: Option<std::time::Duration>,
    decode: fn(&Response) -> Result<A, ClientError>,
) -> Result<(A, ResponseStream), ClientError> {
    client
        .request_stream_ack_with(action, body, item_timeout, decode)
        .await
}

/// A turn of an action limited by `#[action(concurrency = N)]`: waits for
/// one of its `N` permits (`None` for an index the service does not have,
/// which generated code never asks for).
pub async fn permit(
    permits: &[tokio::sync::Semaphore],
    index: usize,
) -> Option<tokio::sync::SemaphorePermit<'_>> {
    permits.get(index)?.acquire().await.ok()
}
