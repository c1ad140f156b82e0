//! The JSON documents the bench echoes, and the request frames carrying them.
//!
//! A body is an object holding build-step records (numbers, floats, short
//! strings, log text with escapes and non-ASCII characters), padded with a
//! string to exactly the requested size.

use std::fmt::Write;

/// A JSON body of exactly `size` bytes (at least 21).
pub fn body(size: usize) -> String {
    let mut doc = String::with_capacity(size + 512);
    doc.push_str(r#"{"steps":["#);
    let closing = r#"],"pad":""}"#;
    let mut record = String::new();
    for i in 0.. {
        record.clear();
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(
            record,
            r#"{sep}{{"id":{i},"name":"step-{i}","status":"success","started":1700000000.{frac:03},"elapsed":{el},"ok":true,"tags":["linux","x86_64"],"output":"\u001b[32mok\u001b[0m passo {i} \u2714 \"done\"\n"}}"#,
            frac = i % 1000,
            el = (i % 97) as f64 * 0.125,
        );
        if doc.len() + record.len() + closing.len() > size {
            break;
        }
        doc.push_str(&record);
    }
    doc.push_str(r#"],"pad":""#);
    while doc.len() + 2 < size {
        doc.push('x');
    }
    doc.push_str(r#""}"#);
    doc
}

/// `{"text":"abc…"}`: one string of `size` letters, as the peers' echo sends.
pub fn text_body(size: usize) -> String {
    let text: String = (0..size)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    format!(r#"{{"text":"{text}"}}"#)
}

/// The framed request `{"action":…,"body":…,"token":…}` (token: plain ASCII).
pub fn request_frame(token: &str, action: &str, body: &str) -> Vec<u8> {
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()));
    let payload = format!(r#"{{"action":"{action}","body":{body},"token":"{token}"}}"#);
    tpp_rpc::unstable::encode_frame(payload.as_bytes())
}

/// `100 B`, `64 KiB`, `16 MiB`.
pub fn size_name(size: usize) -> String {
    if size >= 1 << 20 && size % (1 << 20) == 0 {
        format!("{} MiB", size >> 20)
    } else if size >= 1 << 10 && size % (1 << 10) == 0 {
        format!("{} KiB", size >> 10)
    } else {
        format!("{size} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_the_exact_size_and_are_json() {
        for size in [100, 1000, 65536, 1 << 20] {
            let b = body(size);
            assert_eq!(b.len(), size);
            let v: serde_json::Value = serde_json::from_str(&b).unwrap();
            assert!(v["steps"].is_array());
        }
        assert!(
            !serde_json::from_str::<serde_json::Value>(&body(65536)).unwrap()["steps"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
}
