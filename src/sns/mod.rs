//! Amazon SNS over HTTPS: proving that a body POSTed to `/sns` was sent by SNS, about a topic
//! greenlight listens to, and signing such bodies for the local rehearsal.
//!
//! - [`verify`]: the envelope, the checks in their order, and the refusals with their HTTP status;
//! - [`certificates`]: which `SigningCertURL`s are trusted, and where certificates come from
//!   (pins, a pinned directory, or an HTTPS fetch with a cache);
//! - [`signer`]: a throwaway signer that produces what SNS would send.
//!
//! All of it is pure but for the certificate fetch, which sits behind a trait.

pub mod certificates;
pub mod signer;
pub mod verify;

pub use certificates::{
    CertUrlError, CertificateError, CertificateFetcher, CertificateStore, FETCH_TIMEOUT,
    HttpsFetcher, MAX_CERTIFICATE_BYTES, SigningCertUrl, SigningCertificate,
};
pub use signer::{REHEARSAL_CERT_FILE, SignerError, SnsSigner};
pub use verify::{
    DEFAULT_MAX_AGE, MAX_FUTURE_SKEW, SignatureVersion, SnsEnvelope, SnsMessageType, SnsRefusal,
    SnsVerifier,
};
