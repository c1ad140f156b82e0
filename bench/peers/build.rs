//! Generates tonic's echo service (server and client) from a Rust
//! description: the messages are prost structs in `src/tonic_echo.rs`, so
//! no .proto file and no protoc are needed.

fn main() {
    let echo = tonic_build::manual::Method::builder()
        .name("echo")
        .route_name("Echo")
        .input_type("crate::tonic_echo::EchoMessage")
        .output_type("crate::tonic_echo::EchoMessage")
        .codec_path("tonic_prost::ProstCodec")
        .build();
    let service = tonic_build::manual::Service::builder()
        .name("Echo")
        .package("bench")
        .method(echo)
        .build();
    tonic_build::manual::Builder::new().compile(&[service]);
}
