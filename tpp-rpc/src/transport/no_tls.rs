//! Without the `tls` feature: handshake types that cannot be built, so every
//! `Option` of them is `None` and no TLS code is compiled.

use std::io;

use super::Socket;

/// No server name can exist without TLS.
#[derive(Debug, Clone)]
pub(crate) enum TlsName {}

/// No acceptor can exist without TLS.
#[derive(Clone)]
pub(crate) enum Acceptor {}

impl Acceptor {
    pub(crate) async fn accept(&self, _socket: Socket) -> io::Result<super::Stream> {
        match *self {}
    }
}

/// No connector can exist without TLS.
#[derive(Clone)]
pub(crate) enum Connector {}

impl Connector {
    pub(crate) async fn connect(
        &self,
        _name: Option<&TlsName>,
        _socket: Socket,
    ) -> io::Result<super::Stream> {
        match *self {}
    }
}
