//! `list_funcs = false`: neither the server's `list-funcs` nor the client's `list_funcs()` is
//! generated (here the client may have a `list_funcs` of its own).
#![deny(warnings)]

use tpp_rpc::ActionError;

#[tpp_rpc::toxic_service(list_funcs = false)]
trait Slave {
    #[action(bare)]
    async fn healthcheck(&self) -> Result<String, ActionError>;
}

impl SlaveClient {
    /// Would clash with a generated `list_funcs()`.
    #[allow(dead_code)]
    fn list_funcs(&self) -> &'static str {
        "none here"
    }
}

#[tpp_rpc::toxic_service(list_funcs = true)]
trait Hole {
    async fn ping(&self) -> Result<(), ActionError>;
}

fn main() {
    assert_eq!(SLAVE_ACTIONS.len(), 1);
    let client = HoleClient::from(tpp_rpc::Client::builder("127.0.0.1", 1).build().unwrap());
    let _call = async {
        let _: Result<tpp_rpc::FuncList, tpp_rpc::ClientError> = client.list_funcs().await;
    };
}
