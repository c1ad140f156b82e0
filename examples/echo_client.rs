//! Calls the `echo_server` example.
//!
//! ```text
//! cargo run --example echo_client -- [HOST] [PORT] [TOKEN] [BODY_JSON]
//! ```

use std::time::Duration;

use tpp_rpc::Client;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let host = args.next().unwrap_or_else(|| "127.0.0.1".into());
    let port: u16 = args.next().map_or(Ok(7777), |p| p.parse())?;
    let token = args.next().unwrap_or_else(|| "s3cret".into());
    let body: serde_json::Value = match args.next() {
        Some(text) => serde_json::from_str(&text)?,
        None => serde_json::json!({"hello": "world", "n": [1, 2.5]}),
    };

    let client = Client::builder(host, port)
        .token(token)
        .timeout(Duration::from_secs(10))
        .build()?;
    println!("-> echo {body}");
    match client
        .request2server::<_, serde_json::Value>("echo", &body)
        .await
    {
        Ok(result) => println!("<- {result}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
    Ok(())
}
