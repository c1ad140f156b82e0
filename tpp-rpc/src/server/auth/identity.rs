//! [`Identity`]: who the caller is, as the authenticator found it.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// Who made a request: a name (user, component, key id…) and whatever the
/// authenticator attaches (roles, a tenant, a database row…).
///
/// Cheap to clone (reference-counted), so a map authenticator hands out the
/// same identity to every request of a caller without copying it.
///
/// ```
/// use tpp_rpc::auth::Identity;
///
/// #[derive(Debug)]
/// struct Roles(Vec<&'static str>);
///
/// let who = Identity::new("slave-1").with_data(Roles(vec!["build"]));
/// assert_eq!(who.name(), "slave-1");
/// assert_eq!(who.data::<Roles>().unwrap().0, ["build"]);
/// assert!(who.data::<String>().is_none());
/// ```
#[derive(Clone)]
pub struct Identity {
    name: Arc<str>,
    data: Option<Arc<dyn Any + Send + Sync>>,
}

impl Identity {
    /// A caller named `name`.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Self {
            name: name.into(),
            data: None,
        }
    }

    /// Attaches `data` (replacing what was attached), readable with
    /// [`data`](Self::data).
    pub fn with_data<T: Any + Send + Sync>(mut self, data: T) -> Self {
        self.data = Some(Arc::new(data));
        self
    }

    /// The caller's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the authenticator attached, if it is a `T`.
    pub fn data<T: Any>(&self) -> Option<&T> {
        self.data.as_deref()?.downcast_ref()
    }

    /// The caller a verified client certificate names, carrying the
    /// certificate as its data; `None` when it names no one.
    #[cfg(feature = "tls")]
    pub(crate) fn from_certificate(cert: Option<&crate::tls::PeerCertificate>) -> Option<Self> {
        let cert = cert?;
        Some(Identity::new(cert.name()?).with_data(cert.clone()))
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("name", &self.name)
            .field("data", &self.data.is_some())
            .finish()
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl PartialEq for Identity {
    /// Two identities are equal when their names are.
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Identity {}
