//! What both sides share: the bytes on the wire and their meaning.
//!
//! The frame codec (`frame`), the envelopes of a request and a response
//! (`message`), JSON as the Python reference writes and reads it (`json`), the
//! framework's own `tpp_…` fields (`fields`), the error a service method
//! returns (`toxic_error`), the trace context a request carries (`trace`) and
//! the caller's deadline (`deadline`).
//! No tasks, no sockets: the server and the client build on this layer, never
//! the other way round.

pub(crate) mod budget;
pub mod deadline;
pub mod describe;
pub mod fields;
pub mod frame;
pub mod json;
pub mod message;
pub mod toxic_error;
pub mod trace;

pub use toxic_error::{ActionError, ErrorData, ToxicError};
