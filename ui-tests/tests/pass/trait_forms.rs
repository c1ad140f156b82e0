//! Default method bodies, supertraits, a user-defined `list-funcs`, and a method called
//! `list_funcs` with another wire name.
#![deny(warnings)]

use tpp_rpc::ActionError;

trait Named {
    fn name(&self) -> String;
}

#[tpp_rpc::toxic_service(rename_all = "kebab-case")]
trait Hole: Named {
    /// Has a default body, which may use the supertrait.
    async fn hello(&self, greeting: Option<String>) -> Result<String, ActionError> {
        let greeting = greeting.unwrap_or_else(|| "hello".to_owned());
        Ok(format!("{greeting}, {}", self.name()))
    }

    /// The trait's own introspection replaces the generated one.
    async fn list_funcs(&self) -> Result<Vec<String>, ActionError>;
}

#[tpp_rpc::toxic_service]
trait Snake {
    /// `list_funcs` on the wire, not `list-funcs`: the generated one stays.
    async fn list_funcs(&self) -> Result<u8, ActionError>;
}

struct Impl;

impl Named for Impl {
    fn name(&self) -> String {
        "impl".into()
    }
}

impl Hole for Impl {
    async fn list_funcs(&self) -> Result<Vec<String>, ActionError> {
        Ok(HOLE_ACTIONS.iter().map(|a| a.name.to_owned()).collect())
    }
}

fn main() {
    let names: Vec<&str> = HOLE_ACTIONS.iter().map(|a| a.name).collect();
    assert_eq!(names, ["hello", "list-funcs"]);
    assert_eq!(SNAKE_ACTIONS[0].name, "list_funcs");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let hello = rt.block_on(Impl.hello(None)).unwrap();
    assert_eq!(hello, "hello, impl");
    let client = HoleClient::new(tpp_rpc::Client::builder("127.0.0.1", 1).build().unwrap());
    let _call = async {
        // The trait's own list_funcs method, typed.
        let _: Result<Vec<String>, tpp_rpc::CallError<ActionError>> = client.list_funcs().await;
    };
    let snake = SnakeClient::new(tpp_rpc::Client::builder("127.0.0.1", 1).build().unwrap());
    let _call = async {
        let _: Result<u8, tpp_rpc::CallError<ActionError>> = snake.list_funcs().await;
    };
}

// A service declared by a macro_rules macro: generated code stays hygienic.
macro_rules! service {
    ($name:ident, $method:ident) => {
        #[tpp_rpc::toxic_service]
        trait $name {
            async fn $method(&self, n: u32) -> Result<u32, tpp_rpc::ActionError> {
                Ok(n * 2)
            }
        }
    };
}

service!(FromMacro, double);

struct Doubler;

impl FromMacro for Doubler {}

const _: fn() = || {
    let _ = FromMacroServer::new(Doubler);
    let _ = FROM_MACRO_ACTIONS;
};
