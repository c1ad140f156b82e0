//! #[cfg] on methods and on the trait, visibility and docs carry over to generated items.
#![deny(warnings, missing_docs)]

//! (crate docs)

use tpp_rpc::ActionError;

mod services {
    use tpp_rpc::ActionError;

    /// Only visible in the crate; so are its server, client and constant.
    #[tpp_rpc::toxic_service]
    pub(crate) trait Internal {
        /// Present.
        async fn here(&self) -> Result<(), ActionError>;
        /// Compiled out, with everything generated for it.
        #[cfg(any())]
        async fn gone(&self, x: NoSuchType) -> Result<(), ActionError>;
        /// Present on unix and elsewhere.
        #[cfg(all())]
        async fn kept(&self) -> Result<(), ActionError>;
    }
}

/// Compiled out entirely.
#[cfg(any())]
#[tpp_rpc::toxic_service]
pub trait Nothing {
    async fn x(&self) -> Result<(), NoSuchType>;
}

/// A public service: its generated items are documented (missing_docs is denied).
#[tpp_rpc::toxic_service]
pub trait Public {
    /// Pings.
    async fn ping(&self) -> Result<(), ActionError>;
    /// Pongs.
    async fn pong(&self, n: u32) -> Result<u32, ActionError>;
}

struct Impl;

impl services::Internal for Impl {
    async fn here(&self) -> Result<(), ActionError> {
        Ok(())
    }
    async fn kept(&self) -> Result<(), ActionError> {
        Ok(())
    }
}

fn main() {
    let _server = services::InternalServer::new(Impl);
    let names: Vec<&str> = services::INTERNAL_ACTIONS.iter().map(|a| a.name).collect();
    assert_eq!(names, ["here", "kept"]);
    let _client: Option<services::InternalClient> = None;
    let _ = PUBLIC_ACTIONS;
    let _: Option<PublicClient> = None;
}
