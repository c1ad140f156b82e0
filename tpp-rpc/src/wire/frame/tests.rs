use super::*;
use proptest::prelude::*;
use tokio_util::codec::Encoder;

fn decode_all(codec: &mut FrameCodec, input: &[u8]) -> Result<Vec<Bytes>, FrameError> {
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    while let Some(frame) = codec.decode(&mut buf)? {
        out.push(frame);
    }
    if let Some(frame) = codec.decode_eof(&mut buf)? {
        out.push(frame);
    }
    Ok(out)
}

#[test]
fn header_forms_the_reference_accepts() {
    for h in ["48", " 48 ", "48\r", "0048", "+48", "\t48\t", " +48 \r"] {
        assert_eq!(parse_header(h.as_bytes()).unwrap(), 48, "{h:?}");
    }
    assert_eq!(parse_header(b"").unwrap(), 0);
    assert_eq!(parse_header(b"0").unwrap(), 0);
}

#[test]
fn header_forms_we_refuse() {
    for h in [
        " ", "\r", "4 8", "0x10", "abc", "+", "++4", "4_8", "1e3", "\r48", "48\r\r", "4\u{0}8",
    ] {
        assert!(
            matches!(parse_header(h.as_bytes()), Err(FrameError::BadHeader(_))),
            "{h:?}"
        );
    }
    assert!(matches!(
        parse_header(b"-5"),
        Err(FrameError::NegativeLength(_))
    ));
    assert!(matches!(
        parse_header(b"99999999999999999999"),
        Err(FrameError::TooLarge { .. })
    ));
}

#[test]
fn tells_when_a_whole_frame_is_buffered() {
    let codec = FrameCodec::new(10);
    assert!(codec.holds_whole_frame(b"2\n{}"));
    assert!(codec.holds_whole_frame(b"0\n"));
    assert!(codec.holds_whole_frame(b"002\n{}rest"));
    assert!(!codec.holds_whole_frame(b"2\n{"));
    assert!(!codec.holds_whole_frame(b"2"));
    assert!(!codec.holds_whole_frame(b""));
    assert!(!codec.holds_whole_frame(b" 2\n{}"));
    assert!(!codec.holds_whole_frame(b"11\n{}{}{}{}{}{}"));
    assert!(!codec.holds_whole_frame(b"99999999999999999999999\n"));
    let mut mid = FrameCodec::new(10);
    let mut buf = BytesMut::from(&b"4\n{}"[..]);
    assert!(mid.decode(&mut buf).unwrap().is_none());
    assert!(!mid.holds_whole_frame(b"2\n{}"));
}

#[test]
fn decodes_frames_and_leaves_the_rest() {
    let mut codec = FrameCodec::default();
    let frames = decode_all(&mut codec, b"2\n{}0\n\n3\nabc").unwrap();
    assert_eq!(frames, vec![&b"{}"[..], b"", b"", b"abc"]);
}

#[test]
fn too_large_is_refused_before_reading_the_payload() {
    let mut codec = FrameCodec::new(10);
    let mut buf = BytesMut::from(&b"11\n"[..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(FrameError::TooLarge {
            declared: 11,
            max: 10
        })
    ));
    let mut buf = BytesMut::from(&b"18446744073709551616\n"[..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(FrameError::TooLarge { .. })
    ));
}

#[test]
fn header_longer_than_20_bytes_is_refused_without_a_newline() {
    let mut codec = FrameCodec::default();
    let mut buf = BytesMut::from(&b"000000000000000000001"[..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(FrameError::HeaderTooLong)
    ));
}

#[test]
fn spaces_before_headers_and_at_the_end_are_no_message() {
    let mut codec = FrameCodec::default();
    let frames = decode_all(&mut codec, b" 2\nab  1\nc \t").unwrap();
    assert_eq!(frames, [&b"ab"[..], &b"c"[..]]);
}

#[test]
fn eof_mid_header_or_payload_is_truncated() {
    let mut codec = FrameCodec::default();
    assert!(matches!(
        decode_all(&mut codec, b"12"),
        Err(FrameError::Truncated { .. })
    ));
    let mut codec = FrameCodec::default();
    let mut input = b"100\n".to_vec();
    input.extend_from_slice(&[b'x'; 48]);
    assert!(matches!(
        decode_all(&mut codec, &input),
        Err(FrameError::Truncated {
            expected: 100,
            received: 48
        })
    ));
}

#[test]
fn encodes_the_byte_length() {
    assert_eq!(encode_frame("é".as_bytes()), b"2\n\xc3\xa9");
    assert_eq!(encode_frame(b""), b"0\n");
    let mut dst = BytesMut::new();
    put_header(&mut dst, 1234567890);
    assert_eq!(&dst[..], b"1234567890\n");
}

proptest! {
    #[test]
    fn never_panics_on_random_bytes(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut codec = FrameCodec::new(1000);
        let _ = decode_all(&mut codec, &input);
    }

    #[test]
    fn round_trips_in_any_chunking(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..6),
        cuts in proptest::collection::vec(1usize..50, 0..20),
    ) {
        let mut wire = BytesMut::new();
        let mut codec = FrameCodec::new(1000);
        for p in &payloads {
            codec.encode(&p[..], &mut wire).unwrap();
        }
        let mut out = Vec::new();
        let mut buf = BytesMut::new();
        let mut rest = &wire[..];
        for cut in cuts.iter().chain(std::iter::repeat(&7)) {
            if rest.is_empty() { break; }
            let n = (*cut).min(rest.len());
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            while let Some(f) = codec.decode(&mut buf).unwrap() {
                out.push(f.to_vec());
            }
        }
        prop_assert!(codec.decode_eof(&mut buf).unwrap().is_none());
        prop_assert_eq!(out, payloads);
    }
}

#[test]
fn a_large_frame_leaves_a_small_buffer_that_does_not_share_its_memory() {
    let mut codec = FrameCodec::default();
    let payload = vec![b'x'; 1 << 20];
    let mut buf = BytesMut::new();
    buf.extend_from_slice(format!("{}\n", payload.len()).as_bytes());
    // The payload arrives in reads, then the start of the next frame.
    let mut frames = Vec::new();
    for chunk in payload.chunks(64 * 1024) {
        buf.extend_from_slice(chunk);
        frames.extend(codec.decode(&mut buf).unwrap());
    }
    buf.extend_from_slice(b"2\n{");
    frames.extend(codec.decode(&mut buf).unwrap());
    assert_eq!(frames.len(), 1);
    // The next frame's header has been read; its first byte waits.
    assert!(buf.capacity() <= READ_BUFFER, "kept: {}", buf.capacity());
    assert_eq!(&buf[..], b"{");
    // Nothing else holds the frame's allocation: dropping it frees it.
    let frame = frames.pop().unwrap();
    assert!(frame.try_into_mut().is_ok());
    buf.extend_from_slice(b"}");
    assert_eq!(codec.decode(&mut buf).unwrap().as_deref(), Some(&b"{}"[..]));
}

#[test]
fn small_frames_keep_their_buffer() {
    let mut codec = FrameCodec::default();
    let mut buf = BytesMut::with_capacity(READ_BUFFER);
    let ptr = buf.as_ptr();
    buf.extend_from_slice(b"2\n{}2\n[]");
    let first = codec.decode(&mut buf).unwrap();
    assert_eq!(first.as_deref(), Some(&b"{}"[..]));
    assert_eq!(
        buf.as_ptr(),
        ptr.wrapping_add(4),
        "no copy for a small frame"
    );
}

#[test]
fn a_server_keeps_a_large_frames_buffer_for_the_next_one_until_released() {
    let budget = crate::wire::budget::RequestBudget::new(4 << 20);
    let mut codec = FrameCodec::default()
        .charging(budget.clone())
        .keeping_buffer();
    let payload = vec![b'x'; 1 << 20];
    let mut framed = format!("{}\n", payload.len()).into_bytes();
    framed.extend_from_slice(&payload);
    let mut buf = BytesMut::new();
    let read_frame = |codec: &mut FrameCodec, buf: &mut BytesMut| {
        let mut frames = Vec::new();
        for chunk in framed.chunks(64 * 1024) {
            // As FramedRead does before each read.
            buf.reserve(1);
            buf.extend_from_slice(chunk);
            frames.extend(codec.decode(buf).unwrap());
        }
        assert_eq!(frames.len(), 1);
        frames.pop().unwrap()
    };
    let first = read_frame(&mut codec, &mut buf);
    let allocation = first.as_ptr();
    assert!(codec.holds_large_buffer());
    drop(first);
    // Kept, and still charged, after the frame is gone.
    assert!(budget.in_use() >= 1 << 20);
    let second = read_frame(&mut codec, &mut buf);
    // In the same allocation (a header's length apart at most).
    let apart = (second.as_ptr() as usize).abs_diff(allocation as usize);
    assert!(
        apart <= MAX_HEADER_LEN,
        "the second frame reuses the buffer"
    );
    assert!(budget.in_use() < 2 << 20, "one charge for one buffer");
    // Not released while the frame's bytes are held (nor mid-frame).
    drop(second);
    buf.extend_from_slice(b"2\n{");
    assert!(codec.decode(&mut buf).unwrap().is_none());
    codec.release_buffer(&mut buf);
    assert!(codec.holds_large_buffer());
    buf.extend_from_slice(b"}");
    assert_eq!(codec.decode(&mut buf).unwrap().as_deref(), Some(&b"{}"[..]));
    // Between frames: the buffer and its charge go.
    codec.release_buffer(&mut buf);
    assert!(!codec.holds_large_buffer());
    assert!(buf.capacity() <= READ_BUFFER, "kept: {}", buf.capacity());
    assert_eq!(budget.in_use(), 0);
}

#[test]
fn a_frame_under_the_keeping_size_leaves_a_small_buffer_even_when_kept() {
    let mut codec = FrameCodec::default().keeping_buffer();
    let mut buf = BytesMut::new();
    for size in [1 << 20, KEEP_FROM - 1] {
        buf.extend_from_slice(format!("{size}\n").as_bytes());
        buf.extend_from_slice(&vec![b'x'; size]);
        assert_eq!(codec.decode(&mut buf).unwrap().map(|f| f.len()), Some(size));
        assert_eq!(codec.holds_large_buffer(), size >= KEEP_FROM);
    }
    assert!(buf.capacity() <= READ_BUFFER, "kept: {}", buf.capacity());
}

/// One read, as a socket gives it: as many bytes as the buffer has room
/// for (at least one), after `reserve(1)` as `FramedRead` does.
fn read_into(buf: &mut BytesMut, incoming: &mut &[u8]) -> usize {
    buf.reserve(1);
    let n = incoming.len().min(buf.capacity() - buf.len());
    buf.extend_from_slice(&incoming[..n]);
    *incoming = &incoming[n..];
    n
}

#[test]
fn small_frames_one_after_another_each_come_in_one_read() {
    let payload = vec![b'x'; 200];
    let mut codec = FrameCodec::new(DEFAULT_MAX_FRAME_SIZE);
    let mut buf = BytesMut::with_capacity(READ_BUFFER);
    let start = buf.as_ptr();
    for i in 0..20 {
        let framed = encode_frame(&payload);
        let mut incoming = &framed[..];
        assert!(codec.decode(&mut buf).unwrap().is_none());
        read_into(&mut buf, &mut incoming);
        assert!(incoming.is_empty(), "frame {i} needed a second read");
        let frame = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(frame.len(), 200);
        // Dropped, as a request is once answered: its room is taken back.
        drop(frame);
    }
    // And no allocation was made for it.
    assert!(codec.decode(&mut buf).unwrap().is_none());
    assert_eq!(buf.as_ptr(), start);
}
