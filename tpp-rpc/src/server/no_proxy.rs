//! Without the `proxy-protocol` feature: no `ProxyProtocol` can exist, so
//! `Shared::proxy` is always `None`.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

/// Cannot be built: the PROXY protocol is compiled out.
pub(crate) enum ProxyProtocol {}

impl ProxyProtocol {
    pub(super) async fn client_addr(
        &self,
        _tcp: &mut TcpStream,
        _peer: SocketAddr,
        _within: Duration,
    ) -> Option<SocketAddr> {
        match *self {}
    }
}
