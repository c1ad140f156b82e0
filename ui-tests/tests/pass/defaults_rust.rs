// `#[param(default)]` (the type's Default) and literals, besides JSON text.
use tpp_rpc::ActionError;

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Window {
    width: u32,
}

#[tpp_rpc::toxic_service]
trait Settings {
    async fn set(
        &self,
        #[param(default)] retries: u32,
        #[param(default = 10)] limit: u64,
        #[param(default = -1)] offset: i32,
        #[param(default = 1.5)] ratio: f64,
        #[param(default = true)] on: bool,
        #[param(default = 7u8)] small: u8,
        #[param(default)] window: Window,
        #[param(default = "\"main\"")] branch: String,
    ) -> Result<String, ActionError>;
}

fn main() {
    let actions = SETTINGS_ACTIONS;
    let defaults: Vec<Option<&str>> = actions[0].params.iter().map(|p| p.default).collect();
    assert_eq!(
        defaults,
        [
            Some("0"),
            Some("10"),
            Some("-1"),
            Some("1.5"),
            Some("true"),
            Some("7"),
            None,
            Some("\"main\"")
        ]
    );
    assert!(actions[0].params.iter().all(|p| !p.required));
}
