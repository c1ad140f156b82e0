//! The PROXY protocol (v1 text and v2 binary, as HAProxy's `send-proxy` and
//! `send-proxy-v2` write it): a balancer in TCP mode tells the server who the
//! real client is in a header before the first byte of the connection.
//!
//! Only peers in the trusted list may send one, and they must: a header from
//! anyone else is refused (a client could otherwise forge its address), and
//! a trusted peer without one is refused too (its connection's address would
//! be the balancer's). Headers are parsed by the `ppp` crate, on a stack
//! buffer: the declared v2 length is checked against [`MAX_HEADER`] before
//! anything more is read, and the header is only consumed once complete, so
//! the bytes after it (a TPP frame or a TLS handshake) stay in the socket.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ppp::{v1, v2, PartialResult};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tracing::{debug, warn};

/// The largest header accepted: 16 bytes of v2 fixed part and 520 of
/// addresses and TLVs (the protocol's own advice for a receiver's buffer;
/// HAProxy's headers without TLV options are 28 bytes for IPv4, 52 for IPv6).
/// A v1 header is at most 107 bytes.
pub const MAX_HEADER: usize = 536;

const V1_SIGNATURE: &[u8] = b"PROXY ";
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
/// The v2 fixed part: signature, version/command, family, 2-byte length.
const V2_FIXED: usize = 16;

/// Which peers may (and must) send a PROXY header.
#[derive(Debug, Clone)]
pub(crate) struct ProxyProtocol {
    trusted: Vec<IpAddr>,
}

/// What the first bytes of a connection look like.
#[derive(Debug, PartialEq)]
enum Looks {
    V1,
    V2,
    NotProxy,
    NeedMore,
}

/// A header read so far.
#[derive(Debug, PartialEq)]
enum Parsed {
    /// Complete: its length, and the client's address (`None` for v2 LOCAL
    /// or an unknown family: the connection's own address stands).
    Complete(usize, Option<SocketAddr>),
    NeedMore,
    Bad(String),
}

impl ProxyProtocol {
    pub(super) fn new(trusted: impl IntoIterator<Item = IpAddr>) -> ProxyProtocol {
        ProxyProtocol {
            trusted: trusted.into_iter().map(|ip| ip.to_canonical()).collect(),
        }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.contains(&ip.to_canonical())
    }

    /// The address to serve `peer`'s connection as: the client's from the
    /// header of a trusted peer, `peer` itself for anyone else. `None` when
    /// the connection is refused (logged here): close it.
    pub(super) async fn client_addr(
        &self,
        tcp: &mut TcpStream,
        peer: SocketAddr,
        within: Duration,
    ) -> Option<SocketAddr> {
        let trusted = self.is_trusted(peer.ip());
        let work = async {
            if trusted {
                read_header(tcp).await
            } else {
                refuse_header(tcp).await.map(|()| None)
            }
        };
        match tokio::time::timeout(within, work).await {
            Ok(Ok(Some(client))) => {
                debug!(%peer, %client, "PROXY header");
                Some(client)
            }
            Ok(Ok(None)) => Some(peer),
            Ok(Err(why)) => {
                warn!(%peer, trusted, "PROXY protocol: {why}; closing");
                None
            }
            Err(_) => {
                warn!(%peer, trusted, "PROXY protocol: no complete header in time; closing");
                None
            }
        }
    }
}

/// Waits (briefly) for the bytes of a header split across packets: peeking
/// again at once would return the same bytes.
async fn pause(attempt: &mut u32) {
    let ms = 1u64 << (*attempt).min(5);
    *attempt += 1;
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// A trusted peer's header, consumed from the socket.
async fn read_header(tcp: &mut TcpStream) -> Result<Option<SocketAddr>, String> {
    let mut buf = [0u8; MAX_HEADER];
    let mut attempt = 0;
    loop {
        let n = tcp.peek(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed before sending a header".into());
        }
        match parse(&buf[..n]) {
            Parsed::Complete(len, client) => {
                tcp.read_exact(&mut buf[..len])
                    .await
                    .map_err(|e| e.to_string())?;
                return Ok(client);
            }
            Parsed::Bad(why) => return Err(why),
            Parsed::NeedMore if n == buf.len() => {
                return Err(format!("header longer than {MAX_HEADER} bytes"))
            }
            Parsed::NeedMore => pause(&mut attempt).await,
        }
    }
}

/// Fails if an untrusted peer starts with a PROXY header.
async fn refuse_header(tcp: &mut TcpStream) -> Result<(), String> {
    let mut buf = [0u8; V2_SIGNATURE.len()];
    let mut attempt = 0;
    loop {
        let n = tcp.peek(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(()); // a closed connection is for the TPP reader to notice
        }
        match looks(&buf[..n]) {
            Looks::NotProxy => return Ok(()),
            Looks::V1 | Looks::V2 => return Err("header from an untrusted address".into()),
            Looks::NeedMore => pause(&mut attempt).await,
        }
    }
}

fn looks(bytes: &[u8]) -> Looks {
    let mut undecided = false;
    for (signature, version) in [(V1_SIGNATURE, Looks::V1), (V2_SIGNATURE, Looks::V2)] {
        if bytes.starts_with(signature) {
            return version;
        }
        undecided |= signature.starts_with(bytes);
    }
    if undecided {
        Looks::NeedMore
    } else {
        Looks::NotProxy
    }
}

fn parse(bytes: &[u8]) -> Parsed {
    match looks(bytes) {
        Looks::NotProxy => Parsed::Bad("no header from a trusted address".into()),
        Looks::NeedMore => Parsed::NeedMore,
        Looks::V2 => {
            if let Some(&[hi, lo]) = bytes.get(V2_FIXED - 2..V2_FIXED) {
                let declared = V2_FIXED + usize::from(u16::from_be_bytes([hi, lo]));
                if declared > MAX_HEADER {
                    return Parsed::Bad(format!(
                        "v2 header of {declared} bytes is over the {MAX_HEADER}-byte limit"
                    ));
                }
            }
            match v2::Header::try_from(bytes) {
                Ok(h) => Parsed::Complete(h.len(), v2_client(&h)),
                Err(e) if e.is_incomplete() => Parsed::NeedMore,
                Err(e) => Parsed::Bad(format!("bad v2 header: {e}")),
            }
        }
        Looks::V1 => match v1::Header::try_from(bytes) {
            Ok(h) => Parsed::Complete(h.header.len(), v1_client(&h)),
            Err(e) if e.is_incomplete() => Parsed::NeedMore,
            Err(e) => Parsed::Bad(format!("bad v1 header: {e}")),
        },
    }
}

fn v1_client(h: &v1::Header<'_>) -> Option<SocketAddr> {
    match h.addresses {
        v1::Addresses::Tcp4(a) => Some((a.source_address, a.source_port).into()),
        v1::Addresses::Tcp6(a) => Some((a.source_address, a.source_port).into()),
        v1::Addresses::Unknown => None,
    }
}

fn v2_client(h: &v2::Header<'_>) -> Option<SocketAddr> {
    if h.command == v2::Command::Local {
        return None; // the balancer's own connection (its health checks)
    }
    match h.addresses {
        v2::Addresses::IPv4(a) => Some((a.source_address, a.source_port).into()),
        v2::Addresses::IPv6(a) => Some((a.source_address, a.source_port).into()),
        v2::Addresses::Unspecified | v2::Addresses::Unix(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2_ipv4(command: u8, tlv_len: u16) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        h.push(0x20 | command);
        h.push(0x11);
        h.extend((12 + tlv_len).to_be_bytes());
        h.extend([10, 1, 2, 3, 127, 0, 0, 1, 0x30, 0x39, 0x1e, 0x61]);
        h.extend(std::iter::repeat_n(0u8, tlv_len.into()));
        h
    }

    #[test]
    fn v1_headers_give_the_client_and_their_length() {
        let text = b"PROXY TCP4 10.1.2.3 127.0.0.1 12345 7777\r\n12\n{}";
        let client = "10.1.2.3:12345".parse().ok();
        assert_eq!(parse(text), Parsed::Complete(text.len() - 5, client));
        let six = b"PROXY TCP6 ::1 ::1 9 7777\r\n";
        assert_eq!(
            parse(six),
            Parsed::Complete(six.len(), "[::1]:9".parse().ok())
        );
        assert_eq!(parse(b"PROXY UNKNOWN\r\n"), Parsed::Complete(15, None));
        assert_eq!(parse(b"PROXY TCP4 10.1.2.3 127.0"), Parsed::NeedMore);
        assert!(matches!(parse(b"PROXY TCP9 x\r\n"), Parsed::Bad(_)));
        assert!(matches!(parse(&[b'P'; 200]), Parsed::Bad(_)));
    }

    #[test]
    fn v2_headers_give_the_client_and_their_length() {
        let h = v2_ipv4(1, 0);
        assert_eq!(
            parse(&h),
            Parsed::Complete(28, "10.1.2.3:12345".parse().ok())
        );
        // LOCAL (the balancer's own checks): the connection's address stands.
        assert_eq!(parse(&v2_ipv4(0, 0)), Parsed::Complete(28, None));
        assert_eq!(parse(&h[..20]), Parsed::NeedMore);
        assert_eq!(parse(&h[..5]), Parsed::NeedMore);
    }

    #[test]
    fn an_oversized_v2_length_is_refused_from_the_fixed_part() {
        let h = v2_ipv4(1, 60_000);
        match parse(&h[..V2_FIXED]) {
            Parsed::Bad(why) => assert!(why.contains("over the 536-byte limit"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tpp_frames_and_tls_do_not_look_like_proxy_headers() {
        assert_eq!(looks(b"12\n{}"), Looks::NotProxy);
        assert_eq!(looks(&[0x16, 3, 1]), Looks::NotProxy);
        assert_eq!(looks(b"PRO"), Looks::NeedMore);
        assert_eq!(looks(b"\r\n\r"), Looks::NeedMore);
        assert_eq!(looks(b""), Looks::NeedMore);
        assert!(matches!(parse(b"12\n{}"), Parsed::Bad(_)));
    }

    #[test]
    fn trusted_addresses_match_ipv4_mapped_ipv6() {
        let p = ProxyProtocol::new(["127.0.0.1".parse().unwrap()]);
        assert!(p.is_trusted("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!p.is_trusted("127.0.0.2".parse().unwrap()));
    }
}
