//! The framework's own top-level request fields (all named `tpp_…`), shared by
//! the server that reads them and the client that sends them. toxiccore
//! ignores unknown top-level fields, so they are safe to send to it.

/// The request field by which a client asks the server to keep the
/// connection open after a unary response (`"tpp_keep_alive": true`).
/// toxiccore servers ignore it, as they ignore every unknown top-level field.
pub const KEEP_ALIVE_FIELD: &str = "tpp_keep_alive";

/// The prefix of the framework's own top-level fields (`tpp_keep_alive`,
/// `tpp_request_id`, `tpp_traceparent`…): recognised by the server and never
/// shown to handlers as extras ([`Request::reserved`](crate::Request::reserved) has them). toxiccore
/// ignores unknown top-level fields, so they are safe to send to it.
pub const RESERVED_PREFIX: &str = "tpp_";

/// The request field carrying the request id.
pub const REQUEST_ID_FIELD: &str = "tpp_request_id";
/// The request field carrying a W3C `traceparent`.
pub const TRACEPARENT_FIELD: &str = "tpp_traceparent";
/// Longest request id taken from a peer (a longer one is replaced).
pub const MAX_REQUEST_ID_LEN: usize = 128;
/// The request field carrying the caller's budget: the milliseconds it is
/// still willing to wait for the answer, as an integer (relative, so the
/// two hosts' clocks need not agree). See [`crate::deadline`].
pub const DEADLINE_FIELD: &str = "tpp_deadline_ms";

/// The body key of an error answer carrying the error's variant and fields beside its
/// message (`{"error": "…", "tpp_error": {"variant": "Locked", "fields": {…}}}`).
pub use super::toxic_error::ERROR_DATA_KEY;
