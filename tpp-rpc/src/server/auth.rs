//! Authentication: who may call, and who the caller is.
//!
//! Three single-secret authenticators ship with tpp: [`BcryptToken`] (the
//! bcrypt hash a toxiccore deployment stores), [`PlainToken`] (a shared
//! secret compared in constant time) and [`FnAuth`] (any closure). Two more
//! tell callers apart, giving each one its own token, as toxicbuild
//! deployments do per component: [`UserTokens`] (user → plain token) and
//! [`UserHashes`] (user → bcrypt hash). Those name the caller: the
//! [`Identity`] they return is stored in the request's
//! [`Context`](crate::Context) for handlers and layers. Implement
//! [`Authenticator`] for anything else, including checks that need to wait
//! on I/O.

mod identity;
mod users;

#[cfg(feature = "bcrypt")]
use std::collections::{HashSet, VecDeque};
#[cfg(feature = "bcrypt")]
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
#[cfg(feature = "bcrypt")]
use std::sync::Mutex;

#[cfg(feature = "bcrypt")]
use ring::digest::{digest, SHA256};
#[cfg(feature = "bcrypt")]
use tokio::sync::Semaphore;
#[cfg(feature = "bcrypt")]
use tracing::debug;

use super::BoxFuture;

pub use identity::Identity;
#[cfg(feature = "bcrypt")]
pub use users::UserHashes;
pub use users::UserTokens;

/// bcrypt reads at most 72 bytes of a password; longer tokens are refused
/// rather than silently truncated.
#[cfg(feature = "bcrypt")]
pub const BCRYPT_MAX_TOKEN_LEN: usize = 72;

/// The outcome of [`Authenticator::check`]: decided now, or after some work;
/// a yes/no, or the caller's [`Identity`].
pub enum AuthCheck<'a> {
    /// Decided without waiting: `true` accepts the token (the caller stays
    /// anonymous: [`Context::identity`](crate::Context::identity) is `None`).
    Done(bool),
    /// Needs to wait (bcrypt on a blocking thread, a lookup…).
    Pending(BoxFuture<'a, bool>),
    /// Decided without waiting: `Some` accepts the token and names the caller.
    Identified(Option<Identity>),
    /// Needs to wait, then `Some` accepts the token and names the caller.
    PendingIdentity(BoxFuture<'a, Option<Identity>>),
}

/// The token was refused ("Bad auth token", code 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused;

impl AuthCheck<'_> {
    /// Waits for the verdict: whether the token is accepted.
    pub async fn verdict(self) -> bool {
        self.identity().await.is_ok()
    }

    /// Waits for the outcome: `Ok(Some(identity))` for a named caller,
    /// `Ok(None)` for an accepted but anonymous one.
    pub async fn identity(self) -> Result<Option<Identity>, Refused> {
        match self {
            AuthCheck::Done(true) => Ok(None),
            AuthCheck::Done(false) => Err(Refused),
            AuthCheck::Pending(f) => f.await.then_some(None).ok_or(Refused),
            AuthCheck::Identified(id) => id.map(Some).ok_or(Refused),
            AuthCheck::PendingIdentity(f) => f.await.map(Some).ok_or(Refused),
        }
    }

    /// Whether the check was decided without waiting (for a [`BcryptToken`]:
    /// a cache hit).
    pub fn is_immediate(&self) -> bool {
        matches!(self, AuthCheck::Done(_) | AuthCheck::Identified(_))
    }
}

/// Decides whether a request's token is accepted and, optionally, who the
/// caller is. The server calls it with non-empty string tokens only; a
/// missing token is answered before ("No auth token", code 2), a refused one
/// after ("Bad auth token", code 3).
///
/// A per-action authorization check then reads the identity in a layer or a
/// handler:
///
/// ```
/// use tpp_rpc::auth::{AuthCheck, Authenticator, Identity};
///
/// /// Accepts `"<name>:letmein"` and names the caller `<name>`.
/// struct Demo;
///
/// impl Authenticator for Demo {
///     fn check<'a>(&'a self, token: &'a str) -> AuthCheck<'a> {
///         let caller = token.strip_suffix(":letmein").map(Identity::new);
///         AuthCheck::Identified(caller)
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let who = Demo.check("ci:letmein").identity().await.unwrap();
/// assert_eq!(who.unwrap().name(), "ci");
/// assert!(!Demo.check("ci:guess").verdict().await);
/// # });
/// ```
pub trait Authenticator: Send + Sync + 'static {
    /// Checks `token`.
    fn check<'a>(&'a self, token: &'a str) -> AuthCheck<'a>;
}

impl<A: Authenticator + ?Sized> Authenticator for Arc<A> {
    fn check<'a>(&'a self, token: &'a str) -> AuthCheck<'a> {
        (**self).check(token)
    }
}

#[cfg(feature = "bcrypt")]
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// A plain shared token, compared in constant time: the comparison walks the
/// presented token once, against the secret repeated, without an early exit,
/// so its timing depends only on the length of what the peer sent, never on
/// the secret's content or length.
pub struct PlainToken {
    secret: Box<[u8]>,
}

impl PlainToken {
    /// Accepts exactly `token`.
    pub fn new(token: impl AsRef<[u8]>) -> Self {
        Self {
            secret: token.as_ref().into(),
        }
    }
}

/// `given == secret`, in time that depends on `given.len()` only. (No
/// digest: hashing the token on every request cost more than the rest of the
/// envelope's handling.)
pub(crate) fn constant_time_eq(secret: &[u8], given: &[u8]) -> bool {
    if secret.is_empty() {
        // The server never presents an empty token; nothing can match.
        return false;
    }
    let mut diff = u8::from(secret.len() != given.len());
    let mut i = 0usize;
    for &b in given {
        diff |= b ^ secret.get(i).copied().unwrap_or(0);
        // i = (i + 1) % secret.len(), without a branch or a division.
        i += 1;
        i *= usize::from(i != secret.len());
    }
    std::hint::black_box(diff) == 0
}

impl std::fmt::Debug for PlainToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlainToken(..)")
    }
}

impl Authenticator for PlainToken {
    fn check<'a>(&'a self, token: &'a str) -> AuthCheck<'a> {
        AuthCheck::Done(constant_time_eq(&self.secret, token.as_bytes()))
    }
}

/// A bcrypt hash (`$2a$`, `$2b$` or `$2y$`, any cost), as toxiccore's
/// `bcrypt_string` makes and deployments store.
///
/// bcrypt is slow on purpose (a quarter of a second of CPU at cost 12), so
/// verification is guarded against floods of wrong tokens:
///
/// - it runs on tokio's blocking pool, at most
///   [`max_concurrent`](Self::max_concurrent) at a time, so it never stalls
///   the async workers;
/// - at most [`max_queued`](Self::max_queued) verifications wait or run at
///   once; beyond that a token is refused at once (code 3) without hashing;
/// - tokens that verified, and tokens found wrong, are remembered by SHA-256
///   digest (never the token itself) in bounded caches
///   ([`cache_size`](Self::cache_size),
///   [`wrong_cache_size`](Self::wrong_cache_size)), so repeating a token costs
///   nothing;
/// - a verification whose client leaves before it starts is dropped; one
///   already hashing finishes (it cannot be interrupted) and its verdict is
///   remembered.
///
/// The server adds a per-address limit on failed verifications
/// ([`Limits::auth_failures`](crate::Limits::auth_failures)).
///
/// ```
/// let hash = tpp_rpc::BcryptToken::hash("s3cret", 4).unwrap();
/// let auth = tpp_rpc::BcryptToken::new(hash).unwrap().max_queued(16);
/// assert_eq!(auth.queued(), 0);
/// ```
#[cfg(feature = "bcrypt")]
pub struct BcryptToken {
    hash: Arc<str>,
    permits: Arc<Semaphore>,
    queued: AtomicUsize,
    max_queued: usize,
    verdicts: Arc<Mutex<Verdicts>>,
}

/// What verifications found, by token digest.
#[cfg(feature = "bcrypt")]
struct Verdicts {
    right: DigestCache,
    wrong: DigestCache,
}

#[cfg(feature = "bcrypt")]
impl Verdicts {
    fn remember(&mut self, key: [u8; 32], right: bool) {
        if right {
            self.right.insert(key);
        } else {
            self.wrong.insert(key);
        }
    }
}

/// A bounded set of digests; the oldest is forgotten first.
#[cfg(feature = "bcrypt")]
struct DigestCache {
    capacity: usize,
    set: HashSet<[u8; 32]>,
    order: VecDeque<[u8; 32]>,
}

#[cfg(feature = "bcrypt")]
impl DigestCache {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            set: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    fn contains(&self, key: &[u8; 32]) -> bool {
        self.set.contains(key)
    }

    fn insert(&mut self, key: [u8; 32]) {
        if self.capacity == 0 || !self.set.insert(key) {
            return;
        }
        self.order.push_back(key);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }
}

/// Why a string is not a usable bcrypt hash.
#[cfg(feature = "bcrypt")]
#[derive(Debug, thiserror::Error)]
#[error("not a bcrypt hash ($2a$, $2b$ or $2y$): {0}")]
pub struct BadHash(String);

/// Why a token could not be hashed ([`BcryptToken::hash`]): too long, or a
/// cost bcrypt does not take (4 to 31).
#[cfg(feature = "bcrypt")]
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HashError(String);

/// One place in the verification queue, given back when dropped.
#[cfg(feature = "bcrypt")]
struct QueueSlot<'a>(&'a AtomicUsize);

#[cfg(feature = "bcrypt")]
impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(feature = "bcrypt")]
impl BcryptToken {
    /// Default number of verified tokens remembered.
    pub const DEFAULT_CACHE_SIZE: usize = 1024;

    /// Default number of wrong tokens remembered.
    pub const DEFAULT_WRONG_CACHE_SIZE: usize = 4096;

    /// Uses `hash`, checking its format now rather than at the first request.
    pub fn new(hash: impl Into<String>) -> Result<Self, BadHash> {
        let hash = hash.into().trim().to_owned();
        check_hash_format(&hash)?;
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Self {
            hash: hash.into(),
            permits: Arc::new(Semaphore::new(workers)),
            queued: AtomicUsize::new(0),
            max_queued: 4 * workers,
            verdicts: Arc::new(Mutex::new(Verdicts {
                right: DigestCache::new(Self::DEFAULT_CACHE_SIZE),
                wrong: DigestCache::new(Self::DEFAULT_WRONG_CACHE_SIZE),
            })),
        })
    }

    /// How many bcrypt verifications may run at once (default: the number of
    /// CPUs). Further checks wait their turn. 0 counts as 1, and values
    /// beyond [`MAX_COUNT`](crate::settings::MAX_COUNT) (`usize::MAX`
    /// included) as that many.
    pub fn max_concurrent(mut self, n: usize) -> Self {
        self.permits = Arc::new(Semaphore::new(crate::settings::count(n)));
        self
    }

    /// How many verifications may wait or run at once (default: four per
    /// CPU). A token that would wait beyond it is refused at once, without
    /// hashing, so a flood cannot build a backlog that outlives it; at cost
    /// 12 on 2 CPUs the default bounds the wait for a verification to about
    /// 1.25 s. 0 counts as 1; `usize::MAX` means no bound.
    pub fn max_queued(mut self, n: usize) -> Self {
        self.max_queued = n.max(1);
        self
    }

    /// How many verified tokens to remember (default 1024; 0 disables the cache).
    pub fn cache_size(self, n: usize) -> Self {
        if let Ok(mut v) = self.verdicts.lock() {
            v.right = DigestCache::new(n);
        }
        self
    }

    /// How many wrong tokens to remember (default 4096; 0 disables the cache).
    pub fn wrong_cache_size(self, n: usize) -> Self {
        if let Ok(mut v) = self.verdicts.lock() {
            v.wrong = DigestCache::new(n);
        }
        self
    }

    /// Verifications waiting or running now (for monitoring).
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Hashes `token` at `cost` as toxiccore's `bcrypt_string` does (`$2b$`).
    pub fn hash(token: &str, cost: u32) -> Result<String, HashError> {
        if token.len() > BCRYPT_MAX_TOKEN_LEN {
            return Err(HashError(format!(
                "the token is {} bytes long; bcrypt reads at most {BCRYPT_MAX_TOKEN_LEN}",
                token.len()
            )));
        }
        bcrypt::hash(token, cost).map_err(|e| HashError(e.to_string()))
    }

    /// The remembered verdict on a token digest, if any.
    fn known(&self, key: &[u8; 32]) -> Option<bool> {
        let v = self.verdicts.lock().ok()?;
        if v.right.contains(key) {
            Some(true)
        } else if v.wrong.contains(key) {
            Some(false)
        } else {
            None
        }
    }

    fn take_slot(&self) -> Option<QueueSlot<'_>> {
        let before = self.queued.fetch_add(1, Ordering::AcqRel);
        let slot = QueueSlot(&self.queued);
        (before < self.max_queued).then_some(slot)
    }
}

#[cfg(feature = "bcrypt")]
impl std::fmt::Debug for BcryptToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BcryptToken").finish_non_exhaustive()
    }
}

#[cfg(feature = "bcrypt")]
fn check_hash_format(s: &str) -> Result<(), BadHash> {
    let prefix_ok = ["$2a$", "$2b$", "$2y$"].iter().any(|p| s.starts_with(p));
    if !prefix_ok {
        return Err(BadHash(s.chars().take(7).collect()));
    }
    s.parse::<bcrypt::HashParts>()
        .map(drop)
        .map_err(|e| BadHash(e.to_string()))
}

#[cfg(feature = "bcrypt")]
impl Authenticator for BcryptToken {
    fn check<'a>(&'a self, token: &'a str) -> AuthCheck<'a> {
        if token.len() > BCRYPT_MAX_TOKEN_LEN {
            return AuthCheck::Done(false);
        }
        let key = sha256(token.as_bytes());
        if let Some(verdict) = self.known(&key) {
            return AuthCheck::Done(verdict);
        }
        let Some(slot) = self.take_slot() else {
            debug!("bcrypt verification queue full; token refused without hashing");
            return AuthCheck::Done(false);
        };
        AuthCheck::Pending(Box::pin(async move {
            let _slot = slot;
            let Ok(permit) = self.permits.clone().acquire_owned().await else {
                return false;
            };
            // Someone may have verified the same token while we waited.
            if let Some(verdict) = self.known(&key) {
                return verdict;
            }
            let token = token.to_owned();
            let hash = self.hash.clone();
            let verdicts = self.verdicts.clone();
            // The permit and the verdict go with the hashing: if this future
            // is dropped (the client left), the thread still counts against
            // max_concurrent and its result is still remembered.
            tokio::task::spawn_blocking(move || {
                let right = bcrypt::verify(token, &hash).unwrap_or(false);
                drop(permit);
                if let Ok(mut v) = verdicts.lock() {
                    v.remember(key, right);
                }
                right
            })
            .await
            .unwrap_or(false)
        }))
    }
}

/// An authenticator from a closure: `FnAuth(|token| token == "secret")`.
/// For checks that must wait, implement [`Authenticator`] instead.
pub struct FnAuth<F>(pub F);

impl<F> Authenticator for FnAuth<F>
where
    F: Fn(&str) -> bool + Send + Sync + 'static,
{
    fn check<'a>(&'a self, token: &'a str) -> AuthCheck<'a> {
        AuthCheck::Done((self.0)(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_tokens() {
        let a = PlainToken::new("s3cret");
        assert!(a.check("s3cret").verdict().await);
        assert!(!a.check("s3cre").verdict().await);
        assert!(!a.check("s3cret ").verdict().await);
        // The secret repeated is not the secret.
        assert!(!a.check("s3crets3cret").verdict().await);
        assert!(!a.check("s").verdict().await);
        assert!(!PlainToken::new("").check("x").verdict().await);
        assert!(constant_time_eq(b"ab", b"ab"));
        assert!(!constant_time_eq(b"ab", b"abab"));
        assert!(!constant_time_eq(b"ab", b"a"));
        assert!(!constant_time_eq(b"ab", b"ba"));
    }

    #[cfg(feature = "bcrypt")]
    #[tokio::test]
    async fn bcrypt_verifies_and_caches() {
        let hash = BcryptToken::hash("tok", 4).unwrap();
        let a = BcryptToken::new(hash.replace("$2b$", "$2y$")).unwrap();
        assert!(!a.check("nope").verdict().await);
        assert!(matches!(a.check("tok"), AuthCheck::Pending(_)));
        assert!(a.check("tok").verdict().await);
        assert!(matches!(a.check("tok"), AuthCheck::Done(true)));
        assert!(!a.check(&"x".repeat(73)).verdict().await);
        // A wrong token, once verified, is refused without hashing.
        assert!(matches!(a.check("nope"), AuthCheck::Done(false)));
        assert_eq!(a.queued(), 0);
    }

    #[cfg(feature = "bcrypt")]
    #[tokio::test]
    async fn a_full_queue_refuses_without_hashing() {
        let hash = BcryptToken::hash("tok", 4).unwrap();
        let a = BcryptToken::new(hash).unwrap().max_queued(2);
        let first = a.check("w1");
        let second = a.check("w2");
        assert!(matches!(first, AuthCheck::Pending(_)));
        assert!(matches!(second, AuthCheck::Pending(_)));
        assert_eq!(a.queued(), 2);
        // Even the right token: the queue is full.
        assert!(matches!(a.check("tok"), AuthCheck::Done(false)));
        drop(first);
        assert_eq!(a.queued(), 1);
        assert!(!second.verdict().await);
        assert_eq!(a.queued(), 0);
        assert!(a.check("tok").verdict().await);
    }

    #[cfg(feature = "bcrypt")]
    #[test]
    fn bcrypt_refuses_non_hashes() {
        assert!(BcryptToken::new("plain").is_err());
        assert!(BcryptToken::new("$1$abc").is_err());
    }

    #[cfg(feature = "bcrypt")]
    #[test]
    fn cache_is_bounded() {
        let mut c = DigestCache::new(2);
        for i in 0..5u8 {
            c.insert([i; 32]);
        }
        assert_eq!(c.set.len(), 2);
        assert!(c.contains(&[4; 32]) && c.contains(&[3; 32]) && !c.contains(&[0; 32]));
    }
}
