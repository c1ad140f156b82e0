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

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use ring::digest::{digest, SHA256};
use tokio::sync::Semaphore;

use crate::BoxFuture;

pub use identity::Identity;
pub use users::{UserHashes, UserTokens};

/// bcrypt reads at most 72 bytes of a password; longer tokens are refused
/// rather than silently truncated.
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
/// use tpp::auth::{AuthCheck, Authenticator, Identity};
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
/// Verification runs on tokio's blocking pool, at most
/// [`max_concurrent`](Self::max_concurrent) at a time, so it never stalls
/// the async workers and a flood of wrong tokens cannot take every thread.
/// Tokens that verified are remembered (by SHA-256 digest, never the token
/// itself) in a bounded cache, so a cost-12 hash is paid once, not per request.
pub struct BcryptToken {
    hash: String,
    permits: Semaphore,
    cache: Mutex<VerifiedCache>,
}

struct VerifiedCache {
    capacity: usize,
    set: HashSet<[u8; 32]>,
    order: VecDeque<[u8; 32]>,
}

impl VerifiedCache {
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
#[derive(Debug, thiserror::Error)]
#[error("not a bcrypt hash ($2a$, $2b$ or $2y$): {0}")]
pub struct BadHash(String);

impl BcryptToken {
    /// Default number of verified tokens remembered.
    pub const DEFAULT_CACHE_SIZE: usize = 1024;

    /// Uses `hash`, checking its format now rather than at the first request.
    pub fn new(hash: impl Into<String>) -> Result<Self, BadHash> {
        let hash = hash.into().trim().to_owned();
        check_hash_format(&hash)?;
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Self {
            hash,
            permits: Semaphore::new(workers),
            cache: Mutex::new(VerifiedCache {
                capacity: Self::DEFAULT_CACHE_SIZE,
                set: HashSet::new(),
                order: VecDeque::new(),
            }),
        })
    }

    /// How many bcrypt verifications may run at once (default: the number of
    /// CPUs). Further checks wait their turn.
    pub fn max_concurrent(mut self, n: usize) -> Self {
        self.permits = Semaphore::new(n.max(1));
        self
    }

    /// How many verified tokens to remember (default 1024; 0 disables the cache).
    pub fn cache_size(self, n: usize) -> Self {
        if let Ok(mut cache) = self.cache.lock() {
            cache.capacity = n;
            cache.set.clear();
            cache.order.clear();
        }
        self
    }

    /// Hashes `token` at `cost` as toxiccore's `bcrypt_string` does (`$2b$`).
    pub fn hash(token: &str, cost: u32) -> Result<String, bcrypt::BcryptError> {
        if token.len() > BCRYPT_MAX_TOKEN_LEN {
            return Err(bcrypt::BcryptError::Truncation(token.len()));
        }
        bcrypt::hash(token, cost)
    }

    fn cached(&self, key: &[u8; 32]) -> bool {
        self.cache.lock().is_ok_and(|c| c.contains(key))
    }
}

impl std::fmt::Debug for BcryptToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BcryptToken").finish_non_exhaustive()
    }
}

fn check_hash_format(s: &str) -> Result<(), BadHash> {
    let prefix_ok = ["$2a$", "$2b$", "$2y$"].iter().any(|p| s.starts_with(p));
    if !prefix_ok {
        return Err(BadHash(s.chars().take(7).collect()));
    }
    s.parse::<bcrypt::HashParts>()
        .map(drop)
        .map_err(|e| BadHash(e.to_string()))
}

impl Authenticator for BcryptToken {
    fn check<'a>(&'a self, token: &'a str) -> AuthCheck<'a> {
        if token.len() > BCRYPT_MAX_TOKEN_LEN {
            return AuthCheck::Done(false);
        }
        let key = sha256(token.as_bytes());
        if self.cached(&key) {
            return AuthCheck::Done(true);
        }
        AuthCheck::Pending(Box::pin(async move {
            let Ok(_permit) = self.permits.acquire().await else {
                return false;
            };
            // Someone may have verified the same token while we waited.
            if self.cached(&key) {
                return true;
            }
            let token = token.to_owned();
            let hash = self.hash.clone();
            let ok = tokio::task::spawn_blocking(move || bcrypt::verify(token, &hash))
                .await
                .map(|r| r.unwrap_or(false))
                .unwrap_or(false);
            if ok {
                if let Ok(mut cache) = self.cache.lock() {
                    cache.insert(key);
                }
            }
            ok
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

    #[tokio::test]
    async fn bcrypt_verifies_and_caches() {
        let hash = BcryptToken::hash("tok", 4).unwrap();
        let a = BcryptToken::new(hash.replace("$2b$", "$2y$")).unwrap();
        assert!(!a.check("nope").verdict().await);
        assert!(matches!(a.check("tok"), AuthCheck::Pending(_)));
        assert!(a.check("tok").verdict().await);
        assert!(matches!(a.check("tok"), AuthCheck::Done(true)));
        assert!(!a.check(&"x".repeat(73)).verdict().await);
    }

    #[test]
    fn bcrypt_refuses_non_hashes() {
        assert!(BcryptToken::new("plain").is_err());
        assert!(BcryptToken::new("$1$abc").is_err());
    }

    #[test]
    fn cache_is_bounded() {
        let mut c = VerifiedCache {
            capacity: 2,
            set: HashSet::new(),
            order: VecDeque::new(),
        };
        for i in 0..5u8 {
            c.insert([i; 32]);
        }
        assert_eq!(c.set.len(), 2);
        assert!(c.contains(&[4; 32]) && c.contains(&[3; 32]) && !c.contains(&[0; 32]));
    }
}
