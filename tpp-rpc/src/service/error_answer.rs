//! A service error on the wire: its code, its message where toxiccore reads it, and its
//! variant and fields beside it (`tpp_error`).

use crate::server::Connection;
use crate::wire::message::ServiceErrorBody;
use crate::wire::ActionError;

/// Sends `{"code": code, "body": {"error": message, "tpp_error": data}}` (a code below 1 is
/// sent as 1; no `tpp_error` without data). The generated dispatch and streams answer
/// errors this way.
pub async fn send_service_error(
    conn: &mut Connection,
    error: &ActionError,
) -> Result<(), crate::Error> {
    let body = ServiceErrorBody {
        error: &error.message,
        tpp_error: error.data.as_deref(),
    };
    conn.send_response(error.code.max(1), &body).await
}
