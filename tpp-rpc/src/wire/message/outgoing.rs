//! A request as a client writes it.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};

use tokio::time::Instant;

use crate::wire::deadline::millis_left;
use crate::wire::fields::{DEADLINE_FIELD, KEEP_ALIVE_FIELD, REQUEST_ID_FIELD, TRACEPARENT_FIELD};

/// A request as a client writes it: `{"action", "body", "token", …extras}`.
pub(crate) struct OutgoingRequest<'a, B: ?Sized> {
    pub action: &'a str,
    pub body: &'a B,
    pub token: Option<&'a str>,
    pub extras: &'a Map<String, Value>,
    /// Adds `"tpp_keep_alive": true` (see [`KEEP_ALIVE_FIELD`]).
    pub keep_alive: bool,
    /// `tpp_request_id` and `tpp_traceparent`, when sent.
    pub trace: Option<(&'a str, Option<&'a str>)>,
    /// When the caller stops waiting: `tpp_deadline_ms` is what is left of
    /// it when the request is written.
    pub deadline: Option<Instant>,
}

impl<B: Serialize + ?Sized> Serialize for OutgoingRequest<'_, B> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = 3
            + self.extras.len()
            + usize::from(self.keep_alive)
            + 2 * usize::from(self.trace.is_some())
            + usize::from(self.deadline.is_some());
        let mut map = s.serialize_map(Some(fields))?;
        map.serialize_entry("action", self.action)?;
        map.serialize_entry("body", self.body)?;
        map.serialize_entry("token", &self.token)?;
        for (k, v) in self.extras {
            map.serialize_entry(k, v)?;
        }
        if self.keep_alive {
            map.serialize_entry(KEEP_ALIVE_FIELD, &true)?;
        }
        if let Some((request_id, traceparent)) = self.trace {
            map.serialize_entry(REQUEST_ID_FIELD, request_id)?;
            if let Some(tp) = traceparent {
                map.serialize_entry(TRACEPARENT_FIELD, tp)?;
            }
        }
        if let Some(deadline) = self.deadline {
            map.serialize_entry(DEADLINE_FIELD, &millis_left(deadline))?;
        }
        map.end()
    }
}
