//! One TLS stack and one set of trusted roots for the whole process.
//!
//! slack-morphism and the AWS SDK each pull in rustls; when two crypto providers are compiled in,
//! rustls refuses to pick one and building a client panics at run time. greenlight installs the
//! AWS SDK's provider (aws-lc-rs) as the process default before any client is built, and builds
//! its own HTTPS connector on it for Slack and for fetching SNS certificates.
//!
//! The system's root certificates are found once per process ([`system_roots`]) and given to
//! both the AWS SDK's HTTP client ([`aws_http_client`]) and greenlight's own connector. They are
//! read from the system's bundle file alone when there is one: distributions keep the same
//! certificates twice, as a bundle and as a hashed directory (`/etc/ssl/certs` on Debian, 146
//! files), and reading both, as `rustls-native-certs` does by default, was a third of the hook's
//! start-up CPU (docs/benchmarks.md, "Trusted roots read once").

use std::path::PathBuf;
use std::sync::OnceLock;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Installs aws-lc-rs as rustls' process-wide provider. Idempotent: later calls change nothing.
pub fn install_crypto_provider() {
    let _already_installed = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The root certificates this process trusts for HTTPS, as found on the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemRoots {
    /// One PEM bundle (`SSL_CERT_FILE`, or the first of the system's usual bundle paths), read
    /// once; both clients take its bytes.
    Bundle { path: PathBuf, pem: Vec<u8> },
    /// No bundle, or `SSL_CERT_DIR` set: each client reads what `rustls-native-certs` finds.
    Native,
}

/// The system's roots, found on first use and kept for the life of the process.
pub fn system_roots() -> &'static SystemRoots {
    static ROOTS: OnceLock<SystemRoots> = OnceLock::new();
    ROOTS.get_or_init(|| {
        read_roots(
            openssl_probe::probe().cert_file,
            std::env::var_os("SSL_CERT_DIR").is_some(),
        )
    })
}

/// The bundle when there is one and nobody asked for a directory (`SSL_CERT_DIR`); otherwise
/// the native loader, which reads `SSL_CERT_FILE`/`SSL_CERT_DIR` or the system's usual places.
fn read_roots(bundle: Option<PathBuf>, directory_asked: bool) -> SystemRoots {
    match bundle {
        Some(path) if !directory_asked => match std::fs::read(&path) {
            Ok(pem) => SystemRoots::Bundle { path, pem },
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "could not read the system's root bundle");
                SystemRoots::Native
            }
        },
        _ => SystemRoots::Native,
    }
}

impl SystemRoots {
    /// The certificates, for greenlight's own connector; what cannot be parsed is left out.
    fn certificates(&self) -> Vec<CertificateDer<'static>> {
        match self {
            SystemRoots::Bundle { pem, .. } => CertificateDer::pem_slice_iter(pem)
                .filter_map(Result::ok)
                .collect(),
            SystemRoots::Native => {
                let loaded = rustls_native_certs::load_native_certs();
                for error in &loaded.errors {
                    tracing::warn!(%error, "could not read a system root certificate");
                }
                loaded.certs
            }
        }
    }

    /// The roots as rustls wants them.
    fn root_store(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(self.certificates());
        if added == 0 {
            tracing::warn!("no system root certificates found: HTTPS calls to Slack will fail");
        }
        roots
    }

    /// The roots as the AWS SDK's HTTP client takes them: the bundle's bytes, and nothing of its
    /// own; without a bundle, the SDK's native loader.
    fn trust_store(&self) -> TrustStore {
        match self {
            SystemRoots::Bundle { pem, .. } => TrustStore::empty()
                .with_native_roots(false)
                .with_pem_certificate(pem.clone()),
            SystemRoots::Native => TrustStore::default(),
        }
    }
}

/// The AWS SDK's HTTPS client on aws-lc-rs, trusting [`system_roots`]: the SDK's default client
/// in every other respect (the connector settings and sleep of each SDK client, proxies from
/// `HTTPS_PROXY`/`NO_PROXY`). Timeouts and retries come from the `SdkConfig` it is put into.
pub fn aws_http_client() -> SharedHttpClient {
    let context = match TlsContext::builder()
        .with_trust_store(system_roots().trust_store())
        .build()
    {
        Ok(context) => Some(context),
        // Building a context from a trust store does not fail in this version; if it ever does,
        // the SDK's own roots are the safe fallback.
        Err(error) => {
            tracing::warn!(%error, "the AWS SDK's TLS context was refused; using its default roots");
            None
        }
    };
    aws_smithy_http_client::Builder::new().build_with_connector_fn(
        move |settings, runtime_components| {
            // Without settings, the SDK only asks for a connector to load certificates early, once
            // per client it builds, and drops it (`validate_base_client_config`). Built on a PEM
            // bundle, every such connector would decode the whole bundle again, four or five times
            // at start-up; the roots are read already, so it gets a plain one. The connector used
            // is built on first use, once per distinct settings, and cached by the SDK.
            let Some(settings) = settings else {
                return aws_smithy_http_client::ConnectorBuilder::default().build_http();
            };
            let mut connector = aws_smithy_http_client::ConnectorBuilder::default().tls_provider(
                tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc),
            );
            if let Some(context) = &context {
                connector = connector.tls_context(context.clone());
            }
            connector.set_connector_settings(Some(settings.clone()));
            if let Some(components) = runtime_components {
                connector.set_sleep_impl(components.sleep_impl());
            }
            connector.set_proxy_config(Some(ProxyConfig::from_env()));
            connector.build()
        },
    )
}

/// Whether a connector may also speak plain `http://`. Only local doubles and the rehearsal need
/// it; production traffic to Slack and AWS is always HTTPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    HttpsOnly,
    HttpsOrHttp,
}

/// An HTTPS connector on aws-lc-rs that trusts [`system_roots`].
pub fn https_connector(scheme: Scheme) -> HttpsConnector<HttpConnector> {
    install_crypto_provider();
    let roots = system_roots().root_store();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Two throwaway certificates in one PEM bundle, as a distribution writes it.
    fn bundle() -> (Vec<u8>, Vec<CertificateDer<'static>>) {
        let ders: Vec<CertificateDer<'static>> =
            [&[0x30, 0x03, 0x02, 0x01, 0x07][..], &[0x30, 0x01, 0x00]]
                .iter()
                .map(|der| CertificateDer::from(der.to_vec()))
                .collect();
        let mut pem = String::from("# a comment line, as in Debian's bundle\n");
        pem.push_str("-----BEGIN CERTIFICATE-----\nMAMCAQc=\n-----END CERTIFICATE-----\n");
        pem.push_str("-----BEGIN CERTIFICATE-----\nMAEA\n-----END CERTIFICATE-----\n");
        (pem.into_bytes(), ders)
    }

    #[test]
    fn a_bundle_is_read_once_and_both_clients_take_it() {
        let Ok(directory) = tempfile::tempdir() else {
            panic!("no temporary directory");
        };
        let path = directory.path().join("bundle.pem");
        let (pem, ders) = bundle();
        assert!(std::fs::write(&path, &pem).is_ok());

        let roots = read_roots(Some(path.clone()), false);
        assert_eq!(
            roots,
            SystemRoots::Bundle {
                path,
                pem: pem.clone()
            }
        );
        assert_eq!(roots.certificates(), ders);
        // The SDK gets the same bytes and reads nothing of its own.
        let store = format!("{:?}", roots.trust_store());
        assert!(store.contains("enable_native_roots: false"), "{store}");
        assert!(store.contains(&format!("{pem:?}")), "{store}");
    }

    #[test]
    fn without_a_readable_bundle_or_with_a_directory_asked_for_the_native_loader_reads() {
        let Ok(directory) = tempfile::tempdir() else {
            panic!("no temporary directory");
        };
        let path = directory.path().join("bundle.pem");
        assert!(std::fs::write(&path, bundle().0).is_ok());
        assert_eq!(read_roots(Some(path), true), SystemRoots::Native);
        assert_eq!(read_roots(None, false), SystemRoots::Native);
        let missing = directory.path().join("missing.pem");
        assert_eq!(read_roots(Some(missing), false), SystemRoots::Native);
        let store = format!("{:?}", SystemRoots::Native.trust_store());
        assert!(store.contains("enable_native_roots: true"), "{store}");
    }
}
