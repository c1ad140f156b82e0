//! `tpp call`: the body checked against the action's description, sent, and its result
//! printed.

use std::io::Write;
use std::time::Duration;

use serde_json::value::RawValue;
use serde_json::Value;
use tpp_rpc::ClientConnection;

use crate::args::CallArgs;
use crate::body::{build_body, build_fields, string_keys, RealInput};
use crate::failure::Failure;
use crate::output::{color_for, write_json, Layout};
use crate::session::{result_json, Session};

/// Runs `tpp call`.
pub fn run(args: CallArgs, runtime: &tokio::runtime::Runtime) -> Result<(), Failure> {
    let body = build_body(&args.body, &mut RealInput)?;
    let fields = build_fields(&args.fields)?;
    let session = Session::new(&args.conn, &args.target, fields)?;
    let body = checked_body(&args, &session, body, runtime)?;
    let stdout = std::io::stdout();
    let color = color_for(args.color, &stdout);
    if args.stream {
        let idle = args.idle_timeout.and_then(|t| t.0);
        return runtime.block_on(session.stream(&args.action, &body, idle, |response| {
            let mut out = stdout.lock();
            write_json(&mut out, response.body_json(), Layout::Compact, color)
                .and_then(|()| out.flush())
                .map_err(Failure::output)
        }));
    }
    let (response, mut conn) = runtime.block_on(session.unary_open(&args.action, &body))?;
    let json = match result_json(&response, &args.action, args.raw) {
        Ok(json) => json,
        // A successful answer without the action's key: the first item of a stream?
        Err(Failure::Protocol(message)) => {
            let streams = runtime.block_on(more_follows(&mut conn));
            return Err(Failure::Protocol(not_unary(
                &args.action,
                &message,
                streams,
            )));
        }
        Err(other) => return Err(other),
    };
    let layout = if args.compact {
        Layout::Compact
    } else {
        Layout::Pretty
    };
    let mut out = stdout.lock();
    write_json(&mut out, &json, layout, color)
        .and_then(|()| out.flush())
        .map_err(Failure::output)
}

/// The body after the description's checks: `--describe FILE`'s, else the server's own when
/// it offers a full one (a toxiccore server's plain list is not used: its actions may take
/// keys it does not list). Any failure to get a description checks nothing: the call itself
/// then says what is wrong.
fn checked_body(
    args: &CallArgs,
    session: &Session,
    body: Box<RawValue>,
    runtime: &tokio::runtime::Runtime,
) -> Result<Box<RawValue>, Failure> {
    if args.no_check || args.action == crate::funclist::LIST_FUNCS {
        return Ok(body);
    }
    let fetched = match &args.describe {
        Some(path) => crate::contract::load(path)?,
        None => match runtime.block_on(crate::contract::fetch(session)) {
            Ok(fetched) if fetched.full => fetched,
            _ => return Ok(body),
        },
    };
    let (service, action) = crate::contract::check::find_action(&fetched.description, &args.action)
        .map_err(Failure::Usage)?;
    // Python's NaN and big numbers have no `Value`: such a body goes as written.
    let Ok(mut value) = tpp_rpc::json::from_str::<Value>(body.get()) else {
        return Ok(body);
    };
    let changed =
        crate::contract::check::check_body(service, action, &mut value, &string_keys(&args.body))
            .map_err(Failure::Usage)?;
    if !changed {
        return Ok(body);
    }
    serde_json::value::to_raw_value(&value).map_err(|e| Failure::Other(e.to_string()))
}

/// How long `tpp call` waits, after an answer without the action's key, to see whether
/// another response follows (a stream's next item).
const STREAM_GRACE: Duration = Duration::from_secs(1);

/// Whether another response arrives on `conn` within [`STREAM_GRACE`].
async fn more_follows(conn: &mut ClientConnection) -> bool {
    matches!(
        tokio::time::timeout(STREAM_GRACE, conn.read()).await,
        Ok(Ok(Some(_)))
    )
}

/// The message for a unary call whose answer has no `action` key.
fn not_unary(action: &str, message: &str, streams: bool) -> String {
    match streams {
        true => format!(
            "{action} answers with a stream (more responses followed the first): \
             use --stream to print each of them"
        ),
        false => format!("{message}\n  if {action} is a streaming action, use --stream"),
    }
}
