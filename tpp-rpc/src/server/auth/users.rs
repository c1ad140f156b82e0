//! Authenticators that tell callers apart: one token per user.

#[cfg(feature = "bcrypt")]
use std::collections::{HashMap, VecDeque};
#[cfg(feature = "bcrypt")]
use std::sync::Mutex;

use super::{constant_time_eq, AuthCheck, Authenticator, Identity};
#[cfg(feature = "bcrypt")]
use super::{sha256, BadHash, BcryptToken, BCRYPT_MAX_TOKEN_LEN};

/// Users and their plain tokens: a request's token names its caller.
///
/// Every check compares the token against every user's, in constant time and
/// without stopping at a match, so timing tells nothing of which user (or how
/// close a guess) it was. If two users share a token, the first one added
/// wins.
///
/// ```
/// # async fn run() -> Result<(), tpp_rpc::ServerError> {
/// let users = tpp_rpc::auth::UserTokens::new()
///     .user("master", "token-of-master")
///     .user("slave-1", "token-of-slave-1");
/// let server = tpp_rpc::Server::builder().auth(users).bind("127.0.0.1:0").await?;
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct UserTokens {
    users: Vec<(Identity, Box<[u8]>)>,
}

impl UserTokens {
    /// No users yet (every token is refused).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the user `name`, whose token is `token`.
    pub fn user(self, name: &str, token: impl AsRef<[u8]>) -> Self {
        self.identity(Identity::new(name), token)
    }

    /// Adds a caller with attached data (see [`Identity::with_data`]).
    pub fn identity(mut self, identity: Identity, token: impl AsRef<[u8]>) -> Self {
        self.users.push((identity, token.as_ref().into()));
        self
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there is no user.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

impl<N: AsRef<str>, T: AsRef<[u8]>> FromIterator<(N, T)> for UserTokens {
    fn from_iter<I: IntoIterator<Item = (N, T)>>(iter: I) -> Self {
        iter.into_iter()
            .fold(Self::new(), |users, (n, t)| users.user(n.as_ref(), t))
    }
}

impl std::fmt::Debug for UserTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        debug_names(f, "UserTokens", self.users.iter().map(|(id, _)| id))
    }
}

/// `Name { users: [..names..] }`: never a token or a hash.
fn debug_names<'a>(
    f: &mut std::fmt::Formatter<'_>,
    what: &str,
    users: impl Iterator<Item = &'a Identity>,
) -> std::fmt::Result {
    let names: Vec<&str> = users.map(Identity::name).collect();
    f.debug_struct(what).field("users", &names).finish()
}

impl Authenticator for UserTokens {
    fn check<'a>(&'a self, token: &'a str) -> AuthCheck<'a> {
        let mut found = None;
        for (identity, secret) in &self.users {
            let hit = constant_time_eq(secret, token.as_bytes());
            if hit && found.is_none() {
                found = Some(identity);
            }
        }
        AuthCheck::Identified(found.cloned())
    }
}

/// Users and the bcrypt hashes of their tokens, as a toxicbuild deployment
/// stores them (one per component).
///
/// A token is verified against each user's hash in turn, on the blocking
/// pool (as [`BcryptToken`] does); once verified it is remembered (by
/// SHA-256 digest, never the token itself) with its user, so each caller pays
/// the bcrypt cost once. A wrong token costs one verification per user: keep
/// the map to the few components a deployment has.
///
/// ```
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// // Hashes as a deployment stores them (toxiccore's `bcrypt_string`).
/// let master = tpp_rpc::BcryptToken::hash("token-of-master", 12)?;
/// let slave = tpp_rpc::BcryptToken::hash("token-of-slave-1", 12)?;
/// let users = tpp_rpc::auth::UserHashes::new()
///     .user("master", &master)?
///     .user("slave-1", &slave)?;
/// let server = tpp_rpc::Server::builder().auth(users).bind("127.0.0.1:0").await?;
/// # Ok(()) }
/// ```
#[cfg(feature = "bcrypt")]
pub struct UserHashes {
    users: Vec<(Identity, BcryptToken)>,
    verified: Mutex<VerifiedUsers>,
}

/// Digests of verified tokens → index of their user, oldest dropped first.
#[cfg(feature = "bcrypt")]
struct VerifiedUsers {
    capacity: usize,
    map: HashMap<[u8; 32], usize>,
    order: VecDeque<[u8; 32]>,
}

#[cfg(feature = "bcrypt")]
impl VerifiedUsers {
    fn insert(&mut self, key: [u8; 32], user: usize) {
        if self.capacity == 0 || self.map.insert(key, user).is_some() {
            return;
        }
        self.order.push_back(key);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
}

#[cfg(feature = "bcrypt")]
impl Default for UserHashes {
    fn default() -> Self {
        Self {
            users: Vec::new(),
            verified: Mutex::new(VerifiedUsers {
                capacity: BcryptToken::DEFAULT_CACHE_SIZE,
                map: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }
}

#[cfg(feature = "bcrypt")]
impl UserHashes {
    /// No users yet (every token is refused).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the user `name`, whose token's bcrypt hash is `hash`.
    pub fn user(self, name: &str, hash: &str) -> Result<Self, BadHash> {
        self.identity(Identity::new(name), hash)
    }

    /// Adds a caller with attached data (see [`Identity::with_data`]).
    pub fn identity(mut self, identity: Identity, hash: &str) -> Result<Self, BadHash> {
        // Each user's own cache would only duplicate this map's.
        let token = BcryptToken::new(hash)?.cache_size(0);
        self.users.push((identity, token));
        Ok(self)
    }

    /// How many verified tokens to remember (default 1024; 0 disables it).
    pub fn cache_size(self, n: usize) -> Self {
        if let Ok(mut cache) = self.verified.lock() {
            cache.capacity = n;
            cache.map.clear();
            cache.order.clear();
        }
        self
    }

    fn cached(&self, key: &[u8; 32]) -> Option<&Identity> {
        let user = self.verified.lock().ok()?.map.get(key).copied()?;
        self.users.get(user).map(|(identity, _)| identity)
    }
}

#[cfg(feature = "bcrypt")]
impl std::fmt::Debug for UserHashes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        debug_names(f, "UserHashes", self.users.iter().map(|(id, _)| id))
    }
}

#[cfg(feature = "bcrypt")]
impl Authenticator for UserHashes {
    fn check<'a>(&'a self, token: &'a str) -> AuthCheck<'a> {
        if token.len() > BCRYPT_MAX_TOKEN_LEN || self.users.is_empty() {
            return AuthCheck::Identified(None);
        }
        let key = sha256(token.as_bytes());
        if let Some(identity) = self.cached(&key) {
            return AuthCheck::Identified(Some(identity.clone()));
        }
        AuthCheck::PendingIdentity(Box::pin(async move {
            for (index, (identity, hash)) in self.users.iter().enumerate() {
                if hash.check(token).verdict().await {
                    if let Ok(mut cache) = self.verified.lock() {
                        cache.insert(key, index);
                    }
                    return Some(identity.clone());
                }
            }
            None
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_tokens_name_their_user() {
        let users: UserTokens = [("a", "tok-a"), ("b", "tok-b")].into_iter().collect();
        let b = users.check("tok-b").identity().await.unwrap().unwrap();
        assert_eq!(b.name(), "b");
        assert!(users.check("tok-").identity().await.is_err());
        assert!(!UserTokens::new().check("tok-a").verdict().await);
    }

    #[cfg(feature = "bcrypt")]
    #[tokio::test]
    async fn hashes_name_their_user_and_cache_it() {
        let users = UserHashes::new()
            .user("a", &BcryptToken::hash("tok-a", 4).unwrap())
            .unwrap()
            .user("b", &BcryptToken::hash("tok-b", 4).unwrap())
            .unwrap();
        assert!(users.check("tok-c").identity().await.is_err());
        assert!(!users.check("tok-b").is_immediate());
        let b = users.check("tok-b").identity().await.unwrap().unwrap();
        assert_eq!(b.name(), "b");
        let again = users.check("tok-b");
        assert!(again.is_immediate());
        assert_eq!(again.identity().await.unwrap().unwrap().name(), "b");
        assert!(UserHashes::new().user("x", "plain").is_err());
    }
}
