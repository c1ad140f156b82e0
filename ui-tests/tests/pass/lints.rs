// Generated code raises no warning (this file is built with #![deny(warnings)]), and lint
// attributes written on the trait or on a method reach the generated items.
#![deny(warnings)]

use tpp_rpc::ActionError;

/// Legacy names, allowed once on the trait.
#[tpp_rpc::toxic_service]
#[allow(non_snake_case)]
pub trait Legacy {
    /// Lists everything.
    async fn GetAll(&self) -> Result<Vec<String>, ActionError>;
}

/// One legacy name, allowed on its method; many parameters.
#[tpp_rpc::toxic_service]
pub trait Wide {
    /// Eight parameters, all required: positional on the client.
    #[allow(non_snake_case)]
    #[allow(clippy::too_many_arguments)]
    async fn Build(
        &self,
        a: u8,
        b: u8,
        c: u8,
        d: u8,
        e: u8,
        f: u8,
        g: u8,
        h: String,
    ) -> Result<u32, ActionError>;
}

struct Impl;

impl Legacy for Impl {
    async fn GetAll(&self) -> Result<Vec<String>, ActionError> {
        Ok(vec![])
    }
}

impl Wide for Impl {
    async fn Build(
        &self,
        a: u8,
        b: u8,
        c: u8,
        d: u8,
        e: u8,
        f: u8,
        g: u8,
        h: String,
    ) -> Result<u32, ActionError> {
        Ok([a, b, c, d, e, f, g].iter().map(|n| u32::from(*n)).sum::<u32>() + h.len() as u32)
    }
}

fn main() {
    let _legacy = LegacyServer::new(Impl);
    let _wide = WideServer::new(Impl);
    let client = WideClient::new(tpp_rpc::Client::builder("127.0.0.1", 1).build().unwrap());
    let _call = async {
        let _: Result<u32, tpp_rpc::CallError<ActionError>> =
            client.Build(1, 2, 3, 4, 5, 6, 7, "h").await;
    };
    let legacy = LegacyClient::new(tpp_rpc::Client::builder("127.0.0.1", 1).build().unwrap());
    let _call = async { legacy.GetAll().await };
}
