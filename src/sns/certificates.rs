//! Where SNS signing certificates come from, and which `SigningCertURL`s are trusted at all.
//!
//! `SigningCertURL` is not covered by the signature: whoever sends the body chooses it. The URL is
//! therefore only accepted when it is an `https` URL of a `.pem` file on an SNS host
//! ([`SigningCertUrl::parse`]); the certificate is then taken, in this order, from
//!
//! 1. in-memory pins ([`CertificateStore::pin`]), for the local rehearsal and tests;
//! 2. the per-URL cache of certificates already parsed by this process;
//! 3. the pinned directory (`GREENLIGHT_SNS_CERT_DIR`), by the URL's file name, for deployments
//!    that would rather not reach out to AWS at all;
//! 4. an HTTPS GET of the URL, with a timeout and a size cap. The server's TLS certificate, checked
//!    against the system roots for the SNS host name, is what vouches for the PEM it serves.
//!
//! The fetch sits behind [`CertificateFetcher`] so the cache is tested without a network.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use url::{Host, Url};
use x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION;
use x509_parser::pem::Pem;

use crate::ports::AdapterError;
use crate::tls::{Scheme, https_connector};

/// How long a certificate fetch may take. SNS waits 15 s for the whole delivery, and a cold start
/// has already used some of that; a fetch that takes longer is better answered with a 503 (SNS
/// retries) than with a timeout.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// The largest certificate file accepted. SNS's are under 3 KB; the cap keeps a misbehaving server
/// (or anything else) from making greenlight read megabytes.
pub const MAX_CERTIFICATE_BYTES: usize = 16 * 1024;

/// How many parsed certificates the cache keeps before starting over. SNS uses a handful at a
/// time; the bound only matters if something sends many distinct (valid-looking) URLs.
const MAX_CACHED: usize = 64;

/// The operation name of a certificate fetch in [`AdapterError`]s.
const FETCH_OPERATION: &str = "sns:GetSigningCertificate";

/// A `SigningCertURL` that may be trusted to name an SNS signing certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningCertUrl {
    url: Url,
    file_name: String,
}

/// Why a `SigningCertURL` was refused. The texts are short and safe to send back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CertUrlError {
    #[error("not a URL")]
    NotAUrl,
    #[error("not https")]
    NotHttps,
    #[error("carries user info")]
    UserInfo,
    #[error("names a port")]
    Port,
    #[error("host is not sns.<region>.amazonaws.com")]
    ForeignHost,
    #[error("has a query or fragment")]
    QueryOrFragment,
    #[error("does not name a .pem file")]
    NotPem,
}

impl SigningCertUrl {
    /// Accepts `https://sns.<region>.amazonaws.com/<name>.pem` (or `.amazonaws.com.cn`), with no
    /// user info, no explicit port other than 443, no query or fragment, and a file name of
    /// letters, digits, `-`, `_` and `.` only.
    ///
    /// The host is compared whole after the URL is parsed, so `sns.us-east-1.amazonaws.com.evil.example`,
    /// `evilsns.us-east-1.amazonaws.com` and `https://sns.us-east-1.amazonaws.com@evil.example/`
    /// (whose host is `evil.example`) are all refused. The file-name rule keeps the name safe to
    /// look up in the pinned directory.
    pub fn parse(text: &str) -> Result<SigningCertUrl, CertUrlError> {
        let url = Url::parse(text).map_err(|_| CertUrlError::NotAUrl)?;
        if url.scheme() != "https" {
            return Err(CertUrlError::NotHttps);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(CertUrlError::UserInfo);
        }
        // `Url` drops the scheme's default port, so `:443` is accepted and anything else is not.
        if url.port().is_some() {
            return Err(CertUrlError::Port);
        }
        match url.host() {
            Some(Host::Domain(host)) if is_sns_host(host) => {}
            _ => return Err(CertUrlError::ForeignHost),
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(CertUrlError::QueryOrFragment);
        }
        let file_name = url
            .path_segments()
            .and_then(|mut segments| segments.next_back())
            .filter(|name| is_pem_file_name(name))
            .ok_or(CertUrlError::NotPem)?
            .to_owned();
        Ok(SigningCertUrl { url, file_name })
    }

    /// The URL, normalised.
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The last path segment, e.g. `SimpleNotificationService-<id>.pem`: the name it has in the
    /// pinned directory.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }
}

impl fmt::Display for SigningCertUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `sns.<region>.amazonaws.com` or `sns.<region>.amazonaws.com.cn`, exactly.
fn is_sns_host(host: &str) -> bool {
    let Some(rest) = host.strip_prefix("sns.") else {
        return false;
    };
    let region = rest
        .strip_suffix(".amazonaws.com")
        .or_else(|| rest.strip_suffix(".amazonaws.com.cn"));
    region.is_some_and(is_region)
}

/// An AWS region name: a two-letter area, one or more lowercase words, and a number, joined by
/// dashes (`us-east-1`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-2`).
pub(crate) fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [area, words @ .., number] = parts.as_slice() else {
        return false;
    };
    area.len() == 2
        && area.bytes().all(|b| b.is_ascii_lowercase())
        && !words.is_empty()
        && words
            .iter()
            .all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase()))
        && (1..=2).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

fn is_pem_file_name(name: &str) -> bool {
    name.len() > ".pem".len()
        && name.ends_with(".pem")
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// What verification needs of a signing certificate, parsed once and kept.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningCertificate {
    /// The DER `RSAPublicKey`.
    public_key: Vec<u8>,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    subject: String,
}

impl fmt::Debug for SigningCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningCertificate")
            .field("subject", &self.subject)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl SigningCertificate {
    /// Parses one PEM `CERTIFICATE` block holding an X.509 certificate with an RSA key. Anything
    /// before the block (an HTML error page, say) makes it unparsable rather than being skipped.
    pub fn from_pem(pem: &[u8]) -> Result<SigningCertificate, CertificateError> {
        let unparsable = |what: &str| CertificateError::Unparsable(what.to_owned());
        if !pem
            .trim_ascii_start()
            .starts_with(b"-----BEGIN CERTIFICATE-----")
        {
            return Err(unparsable("does not start with a PEM certificate"));
        }
        let block = Pem::iter_from_buffer(pem)
            .next()
            .and_then(Result::ok)
            .ok_or_else(|| unparsable("bad PEM block"))?;
        let certificate = block
            .parse_x509()
            .map_err(|_| unparsable("not an X.509 certificate"))?;
        let key = certificate.public_key();
        if key.algorithm.algorithm != OID_PKCS1_RSAENCRYPTION {
            return Err(CertificateError::NotRsa);
        }
        let validity = certificate.validity();
        let instant = |seconds| {
            DateTime::<Utc>::from_timestamp(seconds, 0)
                .ok_or_else(|| unparsable("validity out of range"))
        };
        Ok(SigningCertificate {
            public_key: key.subject_public_key.data.to_vec(),
            not_before: instant(validity.not_before.timestamp())?,
            not_after: instant(validity.not_after.timestamp())?,
            subject: certificate.subject().to_string(),
        })
    }

    /// Whether the certificate was valid at `instant` (both ends included, as in X.509).
    pub fn covers(&self, instant: DateTime<Utc>) -> bool {
        self.not_before <= instant && instant <= self.not_after
    }

    pub fn not_before(&self) -> DateTime<Utc> {
        self.not_before
    }

    pub fn not_after(&self) -> DateTime<Utc> {
        self.not_after
    }

    /// The subject, e.g. `CN=sns.amazonaws.com`, for logs.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The DER `RSAPublicKey` the signature is checked with.
    pub(crate) fn public_key(&self) -> &[u8] {
        &self.public_key
    }
}

/// Why no usable certificate was found for a URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// Not a PEM X.509 certificate.
    #[error("not a certificate: {0}")]
    Unparsable(String),
    /// A certificate, but its key is not RSA, which is all SNS signs with.
    #[error("the certificate's key is not RSA")]
    NotRsa,
    /// Fetching failed; [`AdapterError::retryable`] tells a passing failure from a refusal.
    #[error(transparent)]
    Fetch(AdapterError),
    /// A file in the pinned directory exists but could not be read.
    #[error("pinned certificate {file}: {message}")]
    PinnedFile { file: String, message: String },
}

impl CertificateError {
    /// Whether trying again later may work: a fetch that timed out, failed to connect or got a
    /// 5xx, or a pinned file that could not be read. Such a message may well be genuine.
    pub fn is_retryable(&self) -> bool {
        match self {
            CertificateError::Fetch(error) => error.retryable,
            CertificateError::PinnedFile { .. } => true,
            CertificateError::Unparsable(_) | CertificateError::NotRsa => false,
        }
    }
}

/// Gets the bytes at a trusted `SigningCertURL`.
#[async_trait]
pub trait CertificateFetcher: Send + Sync {
    /// The body at `url`, at most [`MAX_CERTIFICATE_BYTES`] long. Errors are `retryable` when
    /// trying again later may work (network, timeout, 429, 5xx) and permanent otherwise.
    async fn fetch(&self, url: &SigningCertUrl) -> Result<Bytes, AdapterError>;
}

/// [`CertificateFetcher`] over HTTPS only, on the process's one TLS stack.
#[derive(Clone)]
pub struct HttpsFetcher {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    timeout: Duration,
}

impl fmt::Debug for HttpsFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpsFetcher")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpsFetcher {
    /// A fetcher with [`FETCH_TIMEOUT`]. Build it once: it loads the system roots.
    pub fn new() -> Self {
        HttpsFetcher::with_timeout(FETCH_TIMEOUT)
    }

    pub fn with_timeout(timeout: Duration) -> Self {
        let client =
            Client::builder(TokioExecutor::new()).build(https_connector(Scheme::HttpsOnly));
        HttpsFetcher { client, timeout }
    }

    async fn get(&self, url: &SigningCertUrl) -> Result<Bytes, AdapterError> {
        let uri: http::Uri = url
            .as_str()
            .parse()
            .map_err(|_| AdapterError::permanent(FETCH_OPERATION, "the URL is not a valid URI"))?;
        let response = self.client.get(uri).await.map_err(|error| {
            AdapterError::retryable(FETCH_OPERATION, format!("request failed: {error}"))
        })?;
        let status = response.status();
        if !status.is_success() {
            let message = format!("answered {status}");
            return Err(
                if status.is_server_error() || status == http::StatusCode::TOO_MANY_REQUESTS {
                    AdapterError::retryable(FETCH_OPERATION, message)
                } else {
                    AdapterError::permanent(FETCH_OPERATION, message)
                },
            );
        }
        let body = Limited::new(response.into_body(), MAX_CERTIFICATE_BYTES)
            .collect()
            .await
            .map_err(|error| {
                if error.is::<http_body_util::LengthLimitError>() {
                    AdapterError::permanent(
                        FETCH_OPERATION,
                        format!("body larger than {MAX_CERTIFICATE_BYTES} bytes"),
                    )
                } else {
                    AdapterError::retryable(FETCH_OPERATION, format!("reading the body: {error}"))
                }
            })?;
        Ok(body.to_bytes())
    }
}

impl Default for HttpsFetcher {
    fn default() -> Self {
        HttpsFetcher::new()
    }
}

#[async_trait]
impl CertificateFetcher for HttpsFetcher {
    async fn fetch(&self, url: &SigningCertUrl) -> Result<Bytes, AdapterError> {
        tokio::time::timeout(self.timeout, self.get(url))
            .await
            .unwrap_or_else(|_elapsed| {
                Err(AdapterError::retryable(
                    FETCH_OPERATION,
                    format!("no answer within {:?}", self.timeout),
                ))
            })
    }
}

/// Finds the certificate for a trusted `SigningCertURL`; see the module documentation for where
/// it looks. One store is shared by every request of a process, so a warm Lambda fetches each
/// certificate once.
pub struct CertificateStore {
    directory: Option<PathBuf>,
    pins: Mutex<HashMap<String, Arc<SigningCertificate>>>,
    cache: Mutex<HashMap<String, Arc<SigningCertificate>>>,
    /// Held while fetching, so that concurrent requests for a new certificate fetch it once.
    fetching: tokio::sync::Mutex<()>,
    fetcher: Arc<dyn CertificateFetcher>,
}

impl fmt::Debug for CertificateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateStore")
            .field("directory", &self.directory)
            .finish_non_exhaustive()
    }
}

impl CertificateStore {
    /// A store that fetches with `fetcher` and has no pins and no pinned directory.
    pub fn new(fetcher: Arc<dyn CertificateFetcher>) -> Self {
        CertificateStore {
            directory: None,
            pins: Mutex::new(HashMap::new()),
            cache: Mutex::new(HashMap::new()),
            fetching: tokio::sync::Mutex::new(()),
            fetcher,
        }
    }

    /// A store that fetches over HTTPS ([`HttpsFetcher`]).
    pub fn over_https() -> Self {
        CertificateStore::new(Arc::new(HttpsFetcher::new()))
    }

    /// Looks in `directory` for a file named like the URL's last path segment before fetching.
    pub fn with_directory(mut self, directory: impl Into<PathBuf>) -> Self {
        self.directory = Some(directory.into());
        self
    }

    /// Pins a certificate under a file name (e.g. `SimpleNotificationService-<id>.pem`): any
    /// trusted URL ending in that name gets it, and nothing is fetched. The PEM is parsed now, so
    /// a bad pin fails where it is made.
    pub fn pin(&self, file_name: impl Into<String>, pem: &[u8]) -> Result<(), CertificateError> {
        let certificate = Arc::new(SigningCertificate::from_pem(pem)?);
        lock(&self.pins).insert(file_name.into(), certificate);
        Ok(())
    }

    /// The certificate `url` names.
    pub async fn certificate(
        &self,
        url: &SigningCertUrl,
    ) -> Result<Arc<SigningCertificate>, CertificateError> {
        if let Some(pinned) = lock(&self.pins).get(url.file_name()) {
            return Ok(Arc::clone(pinned));
        }
        if let Some(cached) = self.cached(url) {
            return Ok(cached);
        }
        if let Some(in_directory) = self.in_directory(url).await? {
            return Ok(self.remember(url, in_directory));
        }
        let _only_one_fetch = self.fetching.lock().await;
        // Someone else may have fetched it while this request waited.
        if let Some(cached) = self.cached(url) {
            return Ok(cached);
        }
        let pem = self
            .fetcher
            .fetch(url)
            .await
            .map_err(CertificateError::Fetch)?;
        if pem.len() > MAX_CERTIFICATE_BYTES {
            return Err(CertificateError::Unparsable(format!(
                "larger than {MAX_CERTIFICATE_BYTES} bytes"
            )));
        }
        let certificate = SigningCertificate::from_pem(&pem)?;
        tracing::info!(url = %url, subject = certificate.subject(), "fetched an SNS signing certificate");
        Ok(self.remember(url, certificate))
    }

    fn cached(&self, url: &SigningCertUrl) -> Option<Arc<SigningCertificate>> {
        lock(&self.cache).get(url.as_str()).cloned()
    }

    fn remember(
        &self,
        url: &SigningCertUrl,
        certificate: SigningCertificate,
    ) -> Arc<SigningCertificate> {
        let certificate = Arc::new(certificate);
        let mut cache = lock(&self.cache);
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(url.as_str().to_owned(), Arc::clone(&certificate));
        certificate
    }

    async fn in_directory(
        &self,
        url: &SigningCertUrl,
    ) -> Result<Option<SigningCertificate>, CertificateError> {
        let Some(directory) = &self.directory else {
            return Ok(None);
        };
        // The file name is letters, digits, `-`, `_` and `.` and does not start with a dot
        // (`SigningCertUrl::parse`), so it cannot leave the directory.
        let path = directory.join(url.file_name());
        match tokio::fs::read(&path).await {
            Ok(pem) if pem.len() > MAX_CERTIFICATE_BYTES => Err(CertificateError::Unparsable(
                format!("larger than {MAX_CERTIFICATE_BYTES} bytes"),
            )),
            Ok(pem) => SigningCertificate::from_pem(&pem).map(Some),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(CertificateError::PinnedFile {
                file: path.display().to_string(),
                message: error.to_string(),
            }),
        }
    }
}

/// The maps hold only parsed certificates, so a panic elsewhere cannot leave them half-written:
/// a poisoned lock is safe to use.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::sns::signer::tests::shared_signer;

    /// A fetcher that counts its calls and always gives the same answer.
    pub(crate) struct FakeFetcher {
        calls: AtomicUsize,
        answer: Result<Bytes, AdapterError>,
    }

    impl FakeFetcher {
        pub(crate) fn serving(pem: &str) -> Arc<FakeFetcher> {
            Arc::new(FakeFetcher {
                calls: AtomicUsize::new(0),
                answer: Ok(Bytes::copy_from_slice(pem.as_bytes())),
            })
        }

        pub(crate) fn failing(error: AdapterError) -> Arc<FakeFetcher> {
            Arc::new(FakeFetcher {
                calls: AtomicUsize::new(0),
                answer: Err(error),
            })
        }

        /// A fetcher for tests that must not fetch: it fails permanently, and counts.
        pub(crate) fn unreachable() -> Arc<FakeFetcher> {
            FakeFetcher::failing(AdapterError::permanent(
                FETCH_OPERATION,
                "this test does not fetch",
            ))
        }

        pub(crate) fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl CertificateFetcher for FakeFetcher {
        async fn fetch(&self, _url: &SigningCertUrl) -> Result<Bytes, AdapterError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            // Let concurrent callers pile up behind the fetch lock.
            tokio::task::yield_now().await;
            self.answer.clone()
        }
    }

    pub(crate) fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sns")
    }

    fn url(text: &str) -> SigningCertUrl {
        SigningCertUrl::parse(text).unwrap()
    }

    fn rehearsal_url() -> SigningCertUrl {
        url(shared_signer().cert_url())
    }

    #[test]
    fn sns_certificate_urls_of_every_partition_are_accepted() {
        for (text, file) in [
            (
                "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
                "SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem",
            ),
            ("https://sns.us-gov-west-1.amazonaws.com/a.pem", "a.pem"),
            ("https://sns.cn-north-1.amazonaws.com.cn/b_c.pem", "b_c.pem"),
            ("https://sns.ap-southeast-2.amazonaws.com/x/y.pem", "y.pem"),
            // The default port may be spelled out, and host names are case-insensitive.
            ("https://sns.eu-west-1.amazonaws.com:443/d.pem", "d.pem"),
            ("https://SNS.EU-WEST-1.AMAZONAWS.COM/e.pem", "e.pem"),
        ] {
            let parsed = SigningCertUrl::parse(text);
            assert_eq!(
                parsed.as_ref().map(SigningCertUrl::file_name),
                Ok(file),
                "{text}"
            );
        }
    }

    #[test]
    fn look_alike_and_foreign_certificate_urls_are_refused() {
        use CertUrlError::*;
        for (text, expected) in [
            ("not a url", NotAUrl),
            ("/SimpleNotificationService-1.pem", NotAUrl),
            ("http://sns.us-east-1.amazonaws.com/a.pem", NotHttps),
            ("ftp://sns.us-east-1.amazonaws.com/a.pem", NotHttps),
            (
                "https://sns.us-east-1.amazonaws.com@evil.example/a.pem",
                UserInfo,
            ),
            (
                "https://user:pw@sns.us-east-1.amazonaws.com/a.pem",
                UserInfo,
            ),
            ("https://sns.us-east-1.amazonaws.com:8443/a.pem", Port),
            (
                "https://sns.us-east-1.amazonaws.com.evil.example/a.pem",
                ForeignHost,
            ),
            ("https://evilsns.us-east-1.amazonaws.com/a.pem", ForeignHost),
            (
                "https://sns.us-east-1.evil.amazonaws.com/a.pem",
                ForeignHost,
            ),
            ("https://x.sns.us-east-1.amazonaws.com/a.pem", ForeignHost),
            ("https://sns.us-east-1.amazonaws.com./a.pem", ForeignHost),
            ("https://sns.amazonaws.com/a.pem", ForeignHost),
            ("https://sns..amazonaws.com/a.pem", ForeignHost),
            ("https://sns.us-east-1.amazonaws.co/a.pem", ForeignHost),
            (
                "https://sns.us-east-1.amazonaws.com.cn.evil.example/a.pem",
                ForeignHost,
            ),
            ("https://sns.useast1.amazonaws.com/a.pem", ForeignHost),
            ("https://sns.us-east-one.amazonaws.com/a.pem", ForeignHost),
            ("https://sns.us-east-1-.amazonaws.com/a.pem", ForeignHost),
            ("https://54.239.28.85/a.pem", ForeignHost),
            (
                "https://sns.us-east-1.amazonaws.com/a.pem?x=1",
                QueryOrFragment,
            ),
            (
                "https://sns.us-east-1.amazonaws.com/a.pem#x",
                QueryOrFragment,
            ),
            ("https://sns.us-east-1.amazonaws.com/a.key", NotPem),
            ("https://sns.us-east-1.amazonaws.com/a.pem/", NotPem),
            ("https://sns.us-east-1.amazonaws.com/", NotPem),
            ("https://sns.us-east-1.amazonaws.com/.pem", NotPem),
            ("https://sns.us-east-1.amazonaws.com/a%2F..%2Fb.pem", NotPem),
            ("https://sns.us-east-1.amazonaws.com/a.PEM", NotPem),
        ] {
            assert_eq!(SigningCertUrl::parse(text), Err(expected), "{text}");
        }
    }

    #[test]
    fn region_names_follow_the_aws_pattern() {
        for good in [
            "us-east-1",
            "us-gov-west-1",
            "cn-northwest-1",
            "ap-southeast-10",
        ] {
            assert!(is_region(good), "{good}");
        }
        for bad in [
            "",
            "us",
            "us-1",
            "useast-1",
            "US-EAST-1",
            "us-east-",
            "us--east-1",
            "us-east-123",
            "u-east-1",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
    }

    #[test]
    fn a_genuine_sns_certificate_parses() {
        let pem = std::fs::read(
            fixtures().join("SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"),
        )
        .unwrap();
        let certificate = SigningCertificate::from_pem(&pem).unwrap();
        assert_eq!(certificate.subject(), "CN=sns.amazonaws.com");
        assert_eq!(
            certificate.not_before().to_rfc3339(),
            "2021-09-07T00:00:00+00:00"
        );
        assert_eq!(
            certificate.not_after().to_rfc3339(),
            "2022-08-17T23:59:59+00:00"
        );
        assert!(certificate.covers("2022-07-28T21:24:08Z".parse().unwrap()));
        assert!(!certificate.covers("2022-08-18T00:00:00Z".parse().unwrap()));
        assert!(!certificate.covers("2021-09-06T23:59:59Z".parse().unwrap()));
    }

    #[test]
    fn what_is_not_a_pem_certificate_is_refused() {
        let good = shared_signer().certificate_pem();
        let base64_body: String = good
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        for bad in [
            String::new(),
            "hello".to_owned(),
            format!("<html>\n{good}"),
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n".to_owned(),
            "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n".to_owned(),
            format!("-----BEGIN CERTIFICATE-----\n{base64_body}\n"),
            good.replace("CERTIFICATE", "PUBLIC KEY"),
        ] {
            assert!(
                matches!(
                    SigningCertificate::from_pem(bad.as_bytes()),
                    Err(CertificateError::Unparsable(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_certificate_with_a_non_rsa_key_is_refused() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let pem = rcgen::CertificateParams::new(vec!["sns.amazonaws.com".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap()
            .pem();
        assert_eq!(
            SigningCertificate::from_pem(pem.as_bytes()),
            Err(CertificateError::NotRsa)
        );
    }

    #[tokio::test]
    async fn a_pinned_directory_file_is_used_and_nothing_is_fetched() {
        let directory = tempfile::tempdir().unwrap();
        std::fs::write(
            directory.path().join(REHEARSAL_FILE),
            shared_signer().certificate_pem(),
        )
        .unwrap();
        let fetcher = FakeFetcher::unreachable();
        let store = CertificateStore::new(fetcher.clone()).with_directory(directory.path());

        let first = store.certificate(&rehearsal_url()).await.unwrap();
        let second = store.certificate(&rehearsal_url()).await.unwrap();

        assert_eq!(fetcher.calls(), 0);
        assert_eq!(first, second);
        assert_eq!(
            *first,
            SigningCertificate::from_pem(shared_signer().certificate_pem().as_bytes()).unwrap()
        );
    }

    #[tokio::test]
    async fn a_file_missing_from_the_pinned_directory_is_fetched() {
        let directory = tempfile::tempdir().unwrap();
        let fetcher = FakeFetcher::serving(shared_signer().certificate_pem());
        let store = CertificateStore::new(fetcher.clone()).with_directory(directory.path());
        store.certificate(&rehearsal_url()).await.unwrap();
        assert_eq!(fetcher.calls(), 1);
    }

    #[tokio::test]
    async fn a_bad_file_in_the_pinned_directory_is_unparsable_not_fetched_around() {
        let directory = tempfile::tempdir().unwrap();
        std::fs::write(directory.path().join(REHEARSAL_FILE), "garbage").unwrap();
        let fetcher = FakeFetcher::serving(shared_signer().certificate_pem());
        let store = CertificateStore::new(fetcher.clone()).with_directory(directory.path());
        let error = store.certificate(&rehearsal_url()).await.unwrap_err();
        assert!(
            matches!(error, CertificateError::Unparsable(_)),
            "{error:?}"
        );
        assert!(!error.is_retryable());
        assert_eq!(fetcher.calls(), 0);
    }

    #[tokio::test]
    async fn in_memory_pins_are_used_by_file_name_and_nothing_is_fetched() {
        let fetcher = FakeFetcher::unreachable();
        let store = CertificateStore::new(fetcher.clone());
        shared_signer().pin_into(&store).unwrap();
        for region in ["us-east-1", "eu-central-1"] {
            let url = url(&format!(
                "https://sns.{region}.amazonaws.com/{REHEARSAL_FILE}"
            ));
            store.certificate(&url).await.unwrap();
        }
        assert_eq!(fetcher.calls(), 0);
        assert!(matches!(
            store.pin("x.pem", b"not a certificate"),
            Err(CertificateError::Unparsable(_))
        ));
    }

    #[tokio::test]
    async fn the_cache_fetches_each_url_once() {
        let fetcher = FakeFetcher::serving(shared_signer().certificate_pem());
        let store = CertificateStore::new(fetcher.clone());
        let url = rehearsal_url();

        let (a, b, c) = tokio::join!(
            store.certificate(&url),
            store.certificate(&url),
            store.certificate(&url)
        );
        a.unwrap();
        b.unwrap();
        c.unwrap();
        store.certificate(&url).await.unwrap();
        assert_eq!(fetcher.calls(), 1);

        let elsewhere = SigningCertUrl::parse(&format!(
            "https://sns.ap-south-1.amazonaws.com/{REHEARSAL_FILE}"
        ))
        .unwrap();
        store.certificate(&elsewhere).await.unwrap();
        assert_eq!(fetcher.calls(), 2, "another URL is fetched on its own");
    }

    #[tokio::test]
    async fn failures_are_not_cached_and_say_whether_to_retry() {
        let fetcher =
            FakeFetcher::failing(AdapterError::retryable(FETCH_OPERATION, "answered 503"));
        let store = CertificateStore::new(fetcher.clone());
        let error = store.certificate(&rehearsal_url()).await.unwrap_err();
        assert!(error.is_retryable(), "{error:?}");
        store.certificate(&rehearsal_url()).await.unwrap_err();
        assert_eq!(fetcher.calls(), 2);

        let fetcher =
            FakeFetcher::failing(AdapterError::permanent(FETCH_OPERATION, "answered 404"));
        let error = CertificateStore::new(fetcher)
            .certificate(&rehearsal_url())
            .await
            .unwrap_err();
        assert!(!error.is_retryable(), "{error:?}");

        let fetcher = FakeFetcher::serving("<html>Service Unavailable</html>");
        let store = CertificateStore::new(fetcher.clone());
        for _ in 0..2 {
            let error = store.certificate(&rehearsal_url()).await.unwrap_err();
            assert!(
                matches!(error, CertificateError::Unparsable(_)),
                "{error:?}"
            );
        }
        assert_eq!(fetcher.calls(), 2);
    }

    #[tokio::test]
    async fn an_oversized_answer_is_refused() {
        let huge = format!(
            "{}\n{}",
            shared_signer().certificate_pem(),
            " ".repeat(MAX_CERTIFICATE_BYTES)
        );
        let store = CertificateStore::new(FakeFetcher::serving(&huge));
        let error = store.certificate(&rehearsal_url()).await.unwrap_err();
        assert!(
            matches!(error, CertificateError::Unparsable(_)),
            "{error:?}"
        );
    }

    const REHEARSAL_FILE: &str = crate::sns::signer::REHEARSAL_CERT_FILE;
}
