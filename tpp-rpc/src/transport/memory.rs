//! [`InProcess`]: a server reachable from the same process through an
//! in-memory duplex, with no socket: the server side hands each new
//! connection's far end to its accept path, the client side connects to it.

use std::fmt;
use std::io;
use std::sync::Arc;

use super::Socket;

/// Bytes each direction of an in-process connection holds before the writer
/// waits for the reader (as a socket's buffer would make it wait).
const DUPLEX_BUFFER: usize = 64 * 1024;

/// A server served inside this process, for tests: made by
/// [`ServerBuilder::in_process`](crate::ServerBuilder::in_process), connected
/// to with [`Client::builder_in_process`](crate::Client::builder_in_process).
///
/// Every connection goes through the real server pipeline (framing, the
/// authenticator, layers, limits, keep-alive, the connection limit) over a
/// [`tokio::io::duplex`]; only the socket is missing. Cheap to clone: every
/// clone reaches the same server. Connections already open keep being served
/// after the last clone is dropped, until their client closes them.
#[derive(Clone)]
pub struct InProcess {
    admit: Arc<dyn Fn(Socket) + Send + Sync>,
}

impl fmt::Debug for InProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InProcess")
    }
}

impl InProcess {
    pub(crate) fn new(admit: impl Fn(Socket) + Send + Sync + 'static) -> Self {
        InProcess {
            admit: Arc::new(admit),
        }
    }

    /// Opens a connection: the server gets one end, the caller the other.
    /// Call it inside a Tokio runtime (the server spawns a task for it).
    pub fn connect(&self) -> io::Result<Socket> {
        let (client, server) = tokio::io::duplex(DUPLEX_BUFFER);
        (self.admit)(Socket::Memory(server));
        Ok(Socket::Memory(client))
    }
}
