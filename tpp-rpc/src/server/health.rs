//! The health action: answered before the token check, so a load balancer
//! can probe a replica without the secret, and failing from the moment the
//! server starts shutting down, so the balancer takes the replica out before
//! it stops accepting.

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::wire::frame::encode_frame;
use crate::wire::message::Request;

/// The health action's name unless configured otherwise, as toxicbuild's
/// build server names it.
pub const DEFAULT_HEALTH_ACTION: &str = "healthcheck";

/// A configured health action and its two answers, framed once at bind time
/// so a probe costs no allocation.
pub(crate) struct HealthCheck {
    action: String,
    healthy: Bytes,
    draining: Bytes,
}

impl HealthCheck {
    pub(super) fn new(action: String) -> HealthCheck {
        // {"code":0,"body":{"<action>":"ok"}}: what request2server unwraps.
        let mut ok = Vec::new();
        let _ = crate::wire::message::append_result(&mut ok, &action, "ok");
        let failing = br#"{"code":1,"body":{"error":"shutting down"}}"#;
        HealthCheck {
            healthy: Bytes::from(encode_frame(&ok)),
            draining: Bytes::from(encode_frame(failing)),
            action,
        }
    }

    /// Whether `request` asks for the health action.
    pub(super) fn is_probe(&self, request: &Request) -> bool {
        request.action() == Some(self.action.as_str())
    }

    /// The probe's framed answer: code 0, or code 1 once `draining` is
    /// cancelled. The connection closes after it, so a balancer's check never
    /// waits for more bytes.
    pub(super) fn answer(&self, draining: &CancellationToken) -> Bytes {
        if draining.is_cancelled() {
            self.draining.clone()
        } else {
            self.healthy.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_framed_tpp_responses() {
        let h = HealthCheck::new(DEFAULT_HEALTH_ACTION.to_owned());
        assert_eq!(
            &h.healthy[..],
            b"38\n{\"code\":0,\"body\":{\"healthcheck\":\"ok\"}}"
        );
        assert_eq!(
            &h.draining[..],
            b"43\n{\"code\":1,\"body\":{\"error\":\"shutting down\"}}"
        );
    }
}
