//! `crate = "..."`: the runtime reached through another path (a re-export here; a renamed
//! dependency works the same way).
#![deny(warnings)]

mod rt {
    pub use ::tpp_rpc::*;
}

// No `tpp` in scope under that name in this module.
mod inner {
    use crate::rt;

    #[derive(Debug, thiserror::Error, rt::ToxicError)]
    #[toxic(crate = "crate::rt")]
    pub enum Oops {
        #[error("oops")]
        #[toxic(code = 7)]
        Oops,
    }

    #[rt::toxic_service(crate = "crate::rt")]
    pub trait Pinger {
        async fn ping(&self, n: Option<u32>) -> Result<u32, Oops>;
    }
}

use inner::{Pinger, PingerServer, PINGER_ACTIONS};

struct Impl;

impl Pinger for Impl {
    async fn ping(&self, n: Option<u32>) -> Result<u32, inner::Oops> {
        n.ok_or(inner::Oops::Oops)
    }
}

fn main() {
    let server = PingerServer::new(Impl);
    assert_eq!(rt::Service::actions(&server)[0].name, "ping");
    assert_eq!(PINGER_ACTIONS.len(), 1);
    assert_eq!(rt::ToxicError::code(&inner::Oops::Oops), 7);
}
