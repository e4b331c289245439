//! One TLS stack for the whole process.
//!
//! slack-morphism and the AWS SDK each pull in rustls; when two crypto providers are compiled in,
//! rustls refuses to pick one and building a client panics at run time. greenlight installs the
//! AWS SDK's provider (aws-lc-rs) as the process default before any client is built, and builds
//! its own HTTPS connector on it for Slack and for fetching SNS certificates.

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;

/// Installs aws-lc-rs as rustls' process-wide provider. Idempotent: later calls change nothing.
pub fn install_crypto_provider() {
    let _already_installed = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Whether a connector may also speak plain `http://`. Only local doubles and the rehearsal need
/// it; production traffic to Slack and AWS is always HTTPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    HttpsOnly,
    HttpsOrHttp,
}

/// An HTTPS connector on aws-lc-rs that trusts the system's root certificates.
pub fn https_connector(scheme: Scheme) -> HttpsConnector<HttpConnector> {
    install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    let loaded = rustls_native_certs::load_native_certs();
    for error in &loaded.errors {
        tracing::warn!(%error, "could not read a system root certificate");
    }
    let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
    if added == 0 {
        tracing::warn!("no system root certificates found: HTTPS calls to Slack will fail");
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map(|builder| builder.with_root_certificates(roots).with_no_client_auth());
    let config = match config {
        Ok(config) => config,
        // The default protocol versions are always supported by aws-lc-rs; this arm only keeps
        // the function total.
        Err(error) => {
            tracing::error!(%error, "rustls refused its default protocol versions");
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        }
    };
    let builder = HttpsConnectorBuilder::new().with_tls_config(config);
    let builder = match scheme {
        Scheme::HttpsOnly => builder.https_only(),
        Scheme::HttpsOrHttp => builder.https_or_http(),
    };
    builder.enable_http1().enable_http2().build()
}
