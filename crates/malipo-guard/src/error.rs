/// A guard that cannot be built from its configuration. Requests are never refused with this type:
/// the layer answers them with a [`crate::Rejection`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// An allowlist or trusted-proxy entry is neither an address nor a CIDR.
    #[error(
        "{input:?} is not an IP address or network: expected an address such as 196.201.214.200 \
         or 2001:db8::1, or a CIDR such as 10.0.0.0/8"
    )]
    InvalidNetwork {
        /// The text given.
        input: String,
    },
    /// The callback token key is too short to be unguessable.
    #[error("the callback token key is {len} bytes long: expected at least {min} random bytes")]
    WeakTokenKey {
        /// Length of the key given.
        len: usize,
        /// The minimum length.
        min: usize,
    },
    /// A rate limit of zero requests, which would refuse every callback.
    #[error("the rate limit of {provider} must allow at least 1 request per second and a burst of at least 1, got {rate}/s with burst {burst}")]
    InvalidRateLimit {
        /// The provider whose limit is wrong.
        provider: malipo_core::Provider,
        /// Requests per second given.
        rate: u32,
        /// Burst given.
        burst: u32,
    },
}
