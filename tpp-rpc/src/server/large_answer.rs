//! Serializing and writing a response without holding an async worker for
//! long: small ones inline, a large one off the workers, and written in
//! pieces.
//!
//! A response is serialized into the connection's buffer with a cap of
//! [`INLINE_LIMIT`]. Nearly all fit and cost nothing extra. One that
//! overflows is serialized again from the start inside
//! [`tokio::task::block_in_place`], which hands this worker's other tasks to
//! another thread for the duration, so a 50 MB answer does not stall every
//! connection queued behind it on the same worker; and such answers take
//! turns so that one CPU stays with the workers. The wasted work is bounded
//! by the cap (a millisecond or so). One exception: a single string longer
//! than the cap is scanned for escapes by serde_json before it is written, so
//! that scan stays on the worker (it is kept, not redone). On a
//! current-thread runtime there is no other worker to hand over to, and the
//! answer is serialized inline.

use std::io;
use std::sync::OnceLock;

use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

use crate::transport::Stream;

/// Bytes of a response serialized on the async worker before the rest is
/// moved off it.
pub(super) const INLINE_LIMIT: usize = 1 << 20;

/// A buffer that refuses to grow past `limit`.
pub(super) struct Capped<'a> {
    buf: &'a mut Vec<u8>,
    limit: usize,
}

impl io::Write for Capped<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.write_all(bytes).map(|()| bytes.len())
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.buf.len() + bytes.len() > self.limit {
            if bytes.len() < INLINE_LIMIT / 2 {
                return Err(io::Error::other("over the inline limit"));
            }
            // One huge piece (a long string serde_json has already scanned
            // for escapes): starting over would scan it twice. Keep it and
            // allow a fresh limit for what follows.
            self.limit = self.buf.len() + bytes.len() + INLINE_LIMIT;
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Large answers serialized at once in this process: one CPU is left to
/// the async workers (one at a time on a 1- or 2-CPU machine).
fn large_turns() -> &'static Semaphore {
    static TURNS: OnceLock<Semaphore> = OnceLock::new();
    TURNS.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Semaphore::new(cpus.saturating_sub(1).max(1))
    })
}

/// Appends what `serialize` writes to `buf`, moving off the async worker if
/// it turns out larger than [`INLINE_LIMIT`] (waiting, without holding the
/// worker, while other large answers take the CPUs it may use).
pub(super) async fn serialize_into(
    buf: &mut Vec<u8>,
    mut serialize: impl FnMut(&mut Capped<'_>) -> Result<(), serde_json::Error>,
) -> Result<(), serde_json::Error> {
    let start = buf.len();
    let mut capped = Capped {
        buf,
        limit: start + INLINE_LIMIT,
    };
    match serialize(&mut capped) {
        // Writing to memory fails only at the cap.
        Err(e) if e.is_io() => {}
        done => return done,
    }
    capped.buf.truncate(start);
    capped.limit = usize::MAX;
    let off_worker = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if off_worker {
        let _turn = large_turns().acquire().await;
        tokio::task::block_in_place(|| serialize(&mut capped))
    } else {
        serialize(&mut capped)
    }
}

/// Bytes of one large response written before other tasks get the worker:
/// a 1 MiB answer leaves in one write (256 KiB pieces cost it four more
/// `sendto`s and yields, ≈3 % of its server CPU), while a 50 MB one still
/// lets other connections in every couple of milliseconds.
const WRITE_TURN: usize = 2 * 1024 * 1024;

/// Writes `frame`; a large one in [`WRITE_TURN`] pieces, yielding the worker
/// between them (on loopback, one write of megabytes runs the receiver's
/// side of TCP too, for milliseconds).
pub(super) async fn write_in_turns(stream: &mut Stream, frame: &[u8]) -> io::Result<()> {
    if frame.len() <= WRITE_TURN {
        return stream.write_all(frame).await;
    }
    for piece in frame.chunks(WRITE_TURN) {
        stream.write_all(piece).await?;
        tokio::task::yield_now().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_str(s: &str) -> impl FnMut(&mut Capped<'_>) -> Result<(), serde_json::Error> + '_ {
        move |w| serde_json::to_writer(w, s)
    }

    #[tokio::test]
    async fn small_and_large_on_a_current_thread_runtime() {
        let mut buf = b"xx".to_vec();
        serialize_into(&mut buf, write_str("hi")).await.unwrap();
        assert_eq!(buf, b"xx\"hi\"");
        let big = "a".repeat(INLINE_LIMIT + 10);
        let mut buf = b"xx".to_vec();
        serialize_into(&mut buf, write_str(&big)).await.unwrap();
        assert_eq!(buf.len(), 2 + big.len() + 2);
        assert!(buf.starts_with(b"xx\"aaa") && buf.ends_with(b"a\""));
        // Many small pieces past the limit: started over, same bytes.
        let many: Vec<u32> = (0..INLINE_LIMIT as u32 / 2).collect();
        let mut buf = Vec::new();
        serialize_into(&mut buf, |w| serde_json::to_writer(w, &many))
            .await
            .unwrap();
        assert_eq!(buf, serde_json::to_vec(&many).unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn large_on_a_multi_thread_runtime() {
        let big = "b".repeat(3 * INLINE_LIMIT);
        let mut buf = Vec::new();
        serialize_into(&mut buf, write_str(&big)).await.unwrap();
        assert_eq!(buf.len(), big.len() + 2);
    }

    #[tokio::test]
    async fn large_on_a_current_thread_runtime() {
        let big = "c".repeat(2 * INLINE_LIMIT);
        let mut buf = Vec::new();
        serialize_into(&mut buf, write_str(&big)).await.unwrap();
        assert_eq!(buf.len(), big.len() + 2);
    }
}
