//! Codec micro-benchmarks: a hand-rolled timing loop (no criterion, which is
//! heavy to build), `std::hint::black_box` on every input and output.
//!
//! Each operation runs in batches of at least ~10 ms until its time budget
//! is spent; the figure is the median batch's throughput, in MB/s
//! (10^6 bytes of payload per second).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use serde_json::value::RawValue;
use tokio_util::codec::{Decoder, Encoder};
use tpp_rpc::unstable::FrameCodec;
use tpp_rpc::unstable::{write_response, ActionResult};
use tpp_rpc::{Request, Response};

/// Bytes a socket read hands the decoder at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Runs `batch` (which returns the payload bytes it processed) repeatedly;
/// returns the median throughput in MB/s.
fn measure(budget: Duration, mut batch: impl FnMut() -> (usize, Duration)) -> f64 {
    let mut rates = Vec::new();
    let start = Instant::now();
    while start.elapsed() < budget || rates.len() < 3 {
        let mut bytes = 0usize;
        let mut time = Duration::ZERO;
        while time < Duration::from_millis(10) {
            let (b, t) = batch();
            bytes += b;
            time += t;
        }
        rates.push(bytes as f64 / time.as_secs_f64() / 1e6);
    }
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// How many copies of a `size`-byte payload one batch handles (~1 MiB of payload).
fn copies(size: usize) -> usize {
    (1 << 20) / size.max(1) + 1
}

/// One operation measured at several sizes.
pub struct CodecRow {
    /// What is measured.
    pub name: &'static str,
    /// How it is measured.
    pub how: &'static str,
    /// (payload size, MB/s).
    pub rates: Vec<(usize, f64)>,
}

/// Runs every codec micro-benchmark on bodies of the given sizes.
pub fn run(sizes: &[usize], budget: Duration) -> Vec<CodecRow> {
    let mut decode = Vec::new();
    let mut encode = Vec::new();
    let mut parse = Vec::new();
    let mut write = Vec::new();
    let mut read = Vec::new();
    for &size in sizes {
        let body = crate::docs::body(size);
        let request = crate::docs::request_frame("t0ken", "echo", &body);
        let nl = request.iter().position(|b| *b == b'\n').unwrap_or(0);
        let payload = Bytes::copy_from_slice(&request[nl + 1..]);
        let n = copies(payload.len());
        let mut wire = Vec::new();
        for _ in 0..n {
            wire.extend_from_slice(&request);
        }

        decode.push((
            size,
            measure(budget, || {
                let mut codec = FrameCodec::default();
                let mut buf = BytesMut::with_capacity(READ_CHUNK);
                let t = Instant::now();
                let mut got = 0;
                for chunk in wire.chunks(READ_CHUNK) {
                    buf.extend_from_slice(black_box(chunk));
                    while let Ok(Some(frame)) = codec.decode(&mut buf) {
                        got += black_box(frame).len();
                    }
                }
                (got, t.elapsed())
            }),
        ));

        let mut dst = BytesMut::with_capacity(wire.len());
        encode.push((
            size,
            measure(budget, || {
                dst.clear();
                let mut codec = FrameCodec::default();
                let t = Instant::now();
                for _ in 0..n {
                    let _ = codec.encode(black_box(&payload[..]), &mut dst);
                }
                black_box(&dst);
                (n * payload.len(), t.elapsed())
            }),
        ));

        parse.push((
            size,
            measure(budget, || {
                let reps = n.min(64);
                let t = Instant::now();
                for _ in 0..reps {
                    let r = Request::parse(black_box(payload.clone()));
                    black_box(r.is_ok());
                }
                (reps * payload.len(), t.elapsed())
            }),
        ));

        let raw: Box<RawValue> = RawValue::from_string(body.clone()).expect("valid JSON");
        let mut out = Vec::new();
        let mut response = Vec::new();
        let _ = write_response(
            &mut response,
            0,
            &ActionResult {
                action: "echo",
                value: &*raw,
            },
        );
        let response = Bytes::from(response);
        write.push((
            size,
            measure(budget, || {
                let reps = n.min(64);
                let t = Instant::now();
                for _ in 0..reps {
                    let value: &RawValue = black_box(&raw);
                    let _ = write_response(
                        &mut out,
                        0,
                        &ActionResult {
                            action: "echo",
                            value,
                        },
                    );
                    black_box(&out);
                }
                (reps * response.len(), t.elapsed())
            }),
        ));

        read.push((
            size,
            measure(budget, || {
                let reps = n.min(64);
                let t = Instant::now();
                for _ in 0..reps {
                    let r = Response::parse(black_box(response.clone()));
                    black_box(r.map(|r| r.code()).ok());
                }
                (reps * response.len(), t.elapsed())
            }),
        ));
    }
    vec![
        CodecRow {
            name: "frame decode",
            how: "FrameCodec::decode over frames arriving in 64 KiB reads (copy into the read buffer included)",
            rates: decode,
        },
        CodecRow {
            name: "frame encode",
            how: "FrameCodec::encode into a BytesMut (header + payload copy)",
            rates: encode,
        },
        CodecRow {
            name: "request parse",
            how: "Request::parse: UTF-8 check, envelope, body kept raw",
            rates: parse,
        },
        CodecRow {
            name: "response write",
            how: "write_response of {\"code\":0,\"body\":{\"echo\": <raw body>}}",
            rates: write,
        },
        CodecRow {
            name: "response parse",
            how: "Response::parse (client side): code and raw body",
            rates: read,
        },
    ]
}
