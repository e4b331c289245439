//! Deciding whether a body POSTed to `/sns` really is a message from Amazon SNS about a topic
//! greenlight listens to.
//!
//! The function URL is public, so a body on `/sns` is only a claim. [`SnsVerifier::verify`] runs
//! the checks in a fixed order, cheapest and most telling first, and the first failed check is the
//! answer, each with its own [`SnsRefusal`]:
//!
//! 1. the body parses as an SNS envelope (else [`SnsRefusal::Malformed`], 400);
//! 2. `TopicArn` is one of the configured topics;
//! 3. `Timestamp` is neither older than the allowed age nor more than [`MAX_FUTURE_SKEW`] ahead;
//! 4. `SignatureVersion` is `1` (SHA1withRSA) or `2` (SHA256withRSA);
//! 5. `SigningCertURL` points at a `.pem` file on `sns.<region>.amazonaws.com[.cn]`;
//! 6. the certificate can be had, parses, and was valid at `Timestamp`;
//! 7. the signature verifies over the string to sign.
//!
//! Checks 2–4 come before anything that costs a fetch, so forged traffic for a foreign topic or a
//! replay of an old message never makes greenlight reach out to AWS.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256, RsaParameters,
    UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, TimeDelta, Utc};
use http::StatusCode;
use serde_json::{Map, Value};

use super::certificates::{
    CertUrlError, CertificateError, CertificateStore, SigningCertUrl, SigningCertificate,
};

/// How old a message may be by default. SNS retries a failed delivery for a while, always with the
/// original `Timestamp`, so the window must outlast SNS's own retries to a briefly unavailable bot,
/// yet stay short enough that a captured message cannot be replayed days later.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(60 * 60);

/// How far ahead of greenlight's clock a `Timestamp` may be: clocks drift a little, but a message
/// stamped well in the future would stretch the replay window, so it is refused.
pub const MAX_FUTURE_SKEW: Duration = Duration::from_secs(5 * 60);

/// The three kinds of message SNS POSTs to an HTTP(S) subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SnsMessageType {
    Notification,
    SubscriptionConfirmation,
    UnsubscribeConfirmation,
}

impl SnsMessageType {
    /// The `Type` value on the wire (and in the string to sign).
    pub fn as_str(self) -> &'static str {
        match self {
            SnsMessageType::Notification => "Notification",
            SnsMessageType::SubscriptionConfirmation => "SubscriptionConfirmation",
            SnsMessageType::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }

    fn from_wire(text: &str) -> Option<SnsMessageType> {
        [
            SnsMessageType::Notification,
            SnsMessageType::SubscriptionConfirmation,
            SnsMessageType::UnsubscribeConfirmation,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }
}

/// How SNS signed a message: the topic's `SignatureVersion` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureVersion {
    /// `"1"`: RSA PKCS#1 v1.5 over SHA-1, the default of every topic that was not told otherwise.
    V1Sha1,
    /// `"2"`: RSA PKCS#1 v1.5 over SHA-256.
    V2Sha256,
}

impl SignatureVersion {
    /// The `SignatureVersion` value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureVersion::V1Sha1 => "1",
            SignatureVersion::V2Sha256 => "2",
        }
    }

    fn from_wire(text: &str) -> Option<SignatureVersion> {
        match text {
            "1" => Some(SignatureVersion::V1Sha1),
            "2" => Some(SignatureVersion::V2Sha256),
            _ => None,
        }
    }

    /// The verification algorithm. Keys shorter than 2048 bits are refused: SNS has signed with
    /// 2048-bit keys for a decade, and a short key is more likely a forgery than a real certificate.
    fn algorithm(self) -> &'static RsaParameters {
        match self {
            SignatureVersion::V1Sha1 => &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            SignatureVersion::V2Sha256 => &RSA_PKCS1_2048_8192_SHA256,
        }
    }
}

/// A message that passed every check: what SNS really sent, about a topic greenlight accepts.
///
/// Only the signed fields are carried, with two exceptions that are *not* covered by the signature
/// and must never be followed blindly: `signing_cert_url` (checked against the SNS host pattern
/// and used to find the certificate) and `unsubscribe_url` (kept for logs only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsEnvelope {
    pub message_type: SnsMessageType,
    /// Unique per message; SNS redelivers with the same id, so it is the duplicate check's key.
    pub message_id: String,
    pub topic_arn: String,
    /// The published message, unescaped.
    pub message: String,
    /// Only on notifications published with a subject.
    pub subject: Option<String>,
    /// When SNS published the message (not when it delivered it).
    pub timestamp: DateTime<Utc>,
    pub signature_version: SignatureVersion,
    pub signing_cert_url: String,
    /// Only on confirmations: what `ConfirmSubscription` takes.
    pub token: Option<String>,
    /// Only on confirmations. Prefer confirming through the API with `token` over fetching this.
    pub subscribe_url: Option<String>,
    /// Not signed: for the record only.
    pub unsubscribe_url: Option<String>,
}

/// Why a body on `/sns` was not accepted.
///
/// [`status`](SnsRefusal::status) is what to answer; [`reason`](SnsRefusal::reason) is a short
/// text that is safe to send back; `Display` carries the detail for the log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnsRefusal {
    /// Not JSON, not an object, a required field missing or not a string, an unknown `Type`, or a
    /// `Timestamp` that is not RFC 3339. The detail names the field, never echoes its value.
    #[error("malformed SNS message: {0}")]
    Malformed(String),
    /// `TopicArn` is not one of the configured topics.
    #[error("topic `{0}` is not one greenlight accepts")]
    TopicNotAllowed(String),
    /// `Timestamp` is older than the allowed age.
    #[error("message timestamp {timestamp} is older than {max_age:?} at {now}")]
    Stale {
        timestamp: DateTime<Utc>,
        now: DateTime<Utc>,
        max_age: Duration,
    },
    /// `Timestamp` is more than [`MAX_FUTURE_SKEW`] ahead of the clock.
    #[error("message timestamp {timestamp} is in the future at {now}")]
    FromTheFuture {
        timestamp: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    /// `SignatureVersion` is neither `1` nor `2`.
    #[error("SignatureVersion `{0}` is not supported")]
    UnsupportedSignatureVersion(String),
    /// `SigningCertURL` is not a `.pem` on an SNS host.
    #[error("SigningCertURL refused: {0}")]
    UntrustedCertUrl(CertUrlError),
    /// The certificate is not a PEM X.509 certificate with an RSA key, or AWS answered the fetch
    /// with something that is not a certificate (a 4xx, an oversized body).
    #[error("signing certificate unusable: {0}")]
    UnusableCertificate(String),
    /// The certificate was not valid at the message's `Timestamp`.
    #[error("signing certificate is valid {not_before} to {not_after}, not at {timestamp}")]
    CertificateNotValid {
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
        timestamp: DateTime<Utc>,
    },
    /// The certificate could not be fetched for a reason that may pass (network, timeout, 5xx).
    /// The only refusal that is not the sender's fault: answered with 503 so SNS retries.
    #[error("signing certificate unavailable: {0}")]
    CertificateUnavailable(String),
    /// The signature is not base64, or does not verify over the string to sign.
    #[error("signature does not verify")]
    BadSignature,
}

impl SnsRefusal {
    /// The HTTP status to answer with: 400 for a malformed body, 503 when the certificate could not
    /// be fetched (SNS retries), 403 for everything else.
    pub fn status(&self) -> StatusCode {
        match self {
            SnsRefusal::Malformed(_) => StatusCode::BAD_REQUEST,
            SnsRefusal::CertificateUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            SnsRefusal::TopicNotAllowed(_)
            | SnsRefusal::Stale { .. }
            | SnsRefusal::FromTheFuture { .. }
            | SnsRefusal::UnsupportedSignatureVersion(_)
            | SnsRefusal::UntrustedCertUrl(_)
            | SnsRefusal::UnusableCertificate(_)
            | SnsRefusal::CertificateNotValid { .. }
            | SnsRefusal::BadSignature => StatusCode::FORBIDDEN,
        }
    }

    /// A short reason that is safe to send back to whoever sent the body: it never repeats what
    /// they sent, and never says which topics greenlight accepts.
    pub fn reason(&self) -> String {
        match self {
            SnsRefusal::Malformed(detail) => format!("malformed SNS message: {detail}"),
            SnsRefusal::TopicNotAllowed(_) => "topic not accepted".to_owned(),
            SnsRefusal::Stale { .. } => "message too old".to_owned(),
            SnsRefusal::FromTheFuture { .. } => "message timestamp in the future".to_owned(),
            SnsRefusal::UnsupportedSignatureVersion(_) => "unsupported SignatureVersion".to_owned(),
            SnsRefusal::UntrustedCertUrl(why) => format!("untrusted SigningCertURL: {why}"),
            SnsRefusal::UnusableCertificate(_) => "unusable signing certificate".to_owned(),
            SnsRefusal::CertificateNotValid { .. } => {
                "signing certificate not valid at message time".to_owned()
            }
            SnsRefusal::CertificateUnavailable(_) => {
                "signing certificate unavailable, try again later".to_owned()
            }
            SnsRefusal::BadSignature => "bad signature".to_owned(),
        }
    }

    /// A stable one-word name of the refusal, for the structured log line and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            SnsRefusal::Malformed(_) => "malformed",
            SnsRefusal::TopicNotAllowed(_) => "topic_not_allowed",
            SnsRefusal::Stale { .. } => "stale",
            SnsRefusal::FromTheFuture { .. } => "from_the_future",
            SnsRefusal::UnsupportedSignatureVersion(_) => "unsupported_signature_version",
            SnsRefusal::UntrustedCertUrl(_) => "untrusted_cert_url",
            SnsRefusal::UnusableCertificate(_) => "unusable_certificate",
            SnsRefusal::CertificateNotValid { .. } => "certificate_not_valid",
            SnsRefusal::CertificateUnavailable(_) => "certificate_unavailable",
            SnsRefusal::BadSignature => "bad_signature",
        }
    }
}

impl From<CertificateError> for SnsRefusal {
    fn from(error: CertificateError) -> Self {
        if error.is_retryable() {
            SnsRefusal::CertificateUnavailable(error.to_string())
        } else {
            SnsRefusal::UnusableCertificate(error.to_string())
        }
    }
}

/// Verifies SNS messages for a fixed set of topics.
///
/// Built once per process (it holds the certificate cache) and shared by every request.
#[derive(Debug, Clone)]
pub struct SnsVerifier {
    allowed_topics: Vec<String>,
    max_age: Duration,
    certificates: Arc<CertificateStore>,
}

impl SnsVerifier {
    /// A verifier that accepts messages about `allowed_topics` (exact ARNs; an empty list accepts
    /// nothing) that are at most `max_age` old ([`DEFAULT_MAX_AGE`] is a good value), signed with
    /// certificates from `certificates`.
    pub fn new(
        allowed_topics: Vec<String>,
        max_age: Duration,
        certificates: Arc<CertificateStore>,
    ) -> Self {
        SnsVerifier {
            allowed_topics,
            max_age,
            certificates,
        }
    }

    /// Checks `body` as of `now` and returns the message, or why it is refused.
    ///
    /// `now` is a parameter so tests and recorded AWS messages can be verified at a chosen time;
    /// the router passes `Utc::now()`.
    pub async fn verify(&self, body: &[u8], now: DateTime<Utc>) -> Result<SnsEnvelope, SnsRefusal> {
        let claimed = Claimed::parse(body)?;
        self.check_topic(&claimed.topic_arn)?;
        self.check_timestamp(claimed.timestamp, now)?;
        let version = SignatureVersion::from_wire(&claimed.signature_version).ok_or_else(|| {
            SnsRefusal::UnsupportedSignatureVersion(truncated(&claimed.signature_version))
        })?;
        let cert_url = SigningCertUrl::parse(&claimed.signing_cert_url)
            .map_err(SnsRefusal::UntrustedCertUrl)?;
        let certificate = self.certificates.certificate(&cert_url).await?;
        check_validity(&certificate, claimed.timestamp)?;
        check_signature(
            &certificate,
            version,
            &claimed.string_to_sign(),
            &claimed.signature,
        )?;
        Ok(claimed.into_envelope(version))
    }

    fn check_topic(&self, topic_arn: &str) -> Result<(), SnsRefusal> {
        if self
            .allowed_topics
            .iter()
            .any(|allowed| allowed == topic_arn)
        {
            Ok(())
        } else {
            Err(SnsRefusal::TopicNotAllowed(truncated(topic_arn)))
        }
    }

    fn check_timestamp(
        &self,
        timestamp: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), SnsRefusal> {
        let max_age = TimeDelta::from_std(self.max_age).unwrap_or(TimeDelta::MAX);
        let skew = TimeDelta::from_std(MAX_FUTURE_SKEW).unwrap_or(TimeDelta::MAX);
        let age = now.signed_duration_since(timestamp);
        if age > max_age {
            return Err(SnsRefusal::Stale {
                timestamp,
                now,
                max_age: self.max_age,
            });
        }
        if -age > skew {
            return Err(SnsRefusal::FromTheFuture { timestamp, now });
        }
        Ok(())
    }
}

fn check_validity(
    certificate: &SigningCertificate,
    timestamp: DateTime<Utc>,
) -> Result<(), SnsRefusal> {
    if certificate.covers(timestamp) {
        Ok(())
    } else {
        Err(SnsRefusal::CertificateNotValid {
            not_before: certificate.not_before(),
            not_after: certificate.not_after(),
            timestamp,
        })
    }
}

fn check_signature(
    certificate: &SigningCertificate,
    version: SignatureVersion,
    string_to_sign: &str,
    signature: &str,
) -> Result<(), SnsRefusal> {
    let signature = BASE64
        .decode(signature.as_bytes())
        .map_err(|_| SnsRefusal::BadSignature)?;
    UnparsedPublicKey::new(version.algorithm(), certificate.public_key())
        .verify(string_to_sign.as_bytes(), &signature)
        .map_err(|_| SnsRefusal::BadSignature)
}

/// At most 200 characters of a value that goes into a log line.
fn truncated(text: &str) -> String {
    text.chars().take(200).collect()
}

/// The parts of a message that differ between notifications and confirmations in what is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignedExtras<'a> {
    Notification {
        subject: Option<&'a str>,
    },
    Confirmation {
        subscribe_url: &'a str,
        token: &'a str,
    },
}

/// Every signed field of a message, as it appeared on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignedFields<'a> {
    pub message_type: SnsMessageType,
    pub message: &'a str,
    pub message_id: &'a str,
    /// The exact text SNS sent: the signature covers the text, not the instant.
    pub timestamp: &'a str,
    pub topic_arn: &'a str,
    pub extras: SignedExtras<'a>,
}

/// The string SNS signs: `name\nvalue\n` for each signed field, in the order SNS documents
/// (alphabetical by name). For a notification: Message, MessageId, Subject (only if present),
/// Timestamp, TopicArn, Type. For a confirmation: Message, MessageId, SubscribeURL, Timestamp,
/// Token, TopicArn, Type.
pub(crate) fn string_to_sign(fields: &SignedFields<'_>) -> String {
    let mut text = String::new();
    let mut field = |name: &str, value: &str| {
        text.push_str(name);
        text.push('\n');
        text.push_str(value);
        text.push('\n');
    };
    field("Message", fields.message);
    field("MessageId", fields.message_id);
    match fields.extras {
        SignedExtras::Notification { subject } => {
            if let Some(subject) = subject {
                field("Subject", subject);
            }
            field("Timestamp", fields.timestamp);
        }
        SignedExtras::Confirmation {
            subscribe_url,
            token,
        } => {
            field("SubscribeURL", subscribe_url);
            field("Timestamp", fields.timestamp);
            field("Token", token);
        }
    }
    field("TopicArn", fields.topic_arn);
    field("Type", fields.message_type.as_str());
    text
}

/// What the body claims, before anything is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Claimed {
    message_type: SnsMessageType,
    message_id: String,
    topic_arn: String,
    message: String,
    timestamp_text: String,
    timestamp: DateTime<Utc>,
    signature_version: String,
    signature: String,
    signing_cert_url: String,
    unsubscribe_url: Option<String>,
    extras: ClaimedExtras,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ClaimedExtras {
    Notification {
        subject: Option<String>,
    },
    Confirmation {
        subscribe_url: String,
        token: String,
    },
}

impl Claimed {
    fn parse(body: &[u8]) -> Result<Claimed, SnsRefusal> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|_| SnsRefusal::Malformed("body is not JSON".to_owned()))?;
        let Value::Object(fields) = value else {
            return Err(SnsRefusal::Malformed(
                "body is not a JSON object".to_owned(),
            ));
        };
        let message_type = SnsMessageType::from_wire(&required(&fields, "Type")?)
            .ok_or_else(|| SnsRefusal::Malformed("unknown `Type`".to_owned()))?;
        let timestamp_text = required(&fields, "Timestamp")?;
        let timestamp = DateTime::parse_from_rfc3339(&timestamp_text)
            .map_err(|_| SnsRefusal::Malformed("`Timestamp` is not an RFC 3339 time".to_owned()))?
            .with_timezone(&Utc);
        let extras = match message_type {
            SnsMessageType::Notification => ClaimedExtras::Notification {
                subject: optional(&fields, "Subject")?,
            },
            SnsMessageType::SubscriptionConfirmation | SnsMessageType::UnsubscribeConfirmation => {
                ClaimedExtras::Confirmation {
                    subscribe_url: required(&fields, "SubscribeURL")?,
                    token: required(&fields, "Token")?,
                }
            }
        };
        Ok(Claimed {
            message_type,
            message_id: required(&fields, "MessageId")?,
            topic_arn: required(&fields, "TopicArn")?,
            message: required(&fields, "Message")?,
            timestamp_text,
            timestamp,
            signature_version: required(&fields, "SignatureVersion")?,
            signature: required(&fields, "Signature")?,
            signing_cert_url: required(&fields, "SigningCertURL")?,
            unsubscribe_url: optional(&fields, "UnsubscribeURL")?,
            extras,
        })
    }

    fn string_to_sign(&self) -> String {
        string_to_sign(&SignedFields {
            message_type: self.message_type,
            message: &self.message,
            message_id: &self.message_id,
            timestamp: &self.timestamp_text,
            topic_arn: &self.topic_arn,
            extras: match &self.extras {
                ClaimedExtras::Notification { subject } => SignedExtras::Notification {
                    subject: subject.as_deref(),
                },
                ClaimedExtras::Confirmation {
                    subscribe_url,
                    token,
                } => SignedExtras::Confirmation {
                    subscribe_url,
                    token,
                },
            },
        })
    }

    fn into_envelope(self, signature_version: SignatureVersion) -> SnsEnvelope {
        let (subject, token, subscribe_url) = match self.extras {
            ClaimedExtras::Notification { subject } => (subject, None, None),
            ClaimedExtras::Confirmation {
                subscribe_url,
                token,
            } => (None, Some(token), Some(subscribe_url)),
        };
        SnsEnvelope {
            message_type: self.message_type,
            message_id: self.message_id,
            topic_arn: self.topic_arn,
            message: self.message,
            subject,
            timestamp: self.timestamp,
            signature_version,
            signing_cert_url: self.signing_cert_url,
            token,
            subscribe_url,
            unsubscribe_url: self.unsubscribe_url,
        }
    }
}

fn required(fields: &Map<String, Value>, name: &str) -> Result<String, SnsRefusal> {
    optional(fields, name)?.ok_or_else(|| SnsRefusal::Malformed(format!("`{name}` is missing")))
}

/// A string field that may be absent; `null` counts as absent (Lambda's SNS events write
/// `"Subject": null`), any other non-string is malformed.
fn optional(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, SnsRefusal> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(SnsRefusal::Malformed(format!("`{name}` is not a string"))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ports::AdapterError;
    use crate::sns::certificates::tests::{FakeFetcher, fixtures};
    use crate::sns::signer::tests::shared_signer;
    use crate::sns::{REHEARSAL_CERT_FILE, SnsSigner};

    const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:greenlight-gates";

    /// A verifier for [`TOPIC`] that knows the shared signer's certificate and must not fetch.
    fn verifier() -> (SnsVerifier, Arc<FakeFetcher>) {
        let fetcher = FakeFetcher::unreachable();
        let store = CertificateStore::new(fetcher.clone());
        shared_signer().pin_into(&store).unwrap();
        (
            SnsVerifier::new(vec![TOPIC.to_owned()], DEFAULT_MAX_AGE, Arc::new(store)),
            fetcher,
        )
    }

    fn now() -> DateTime<Utc> {
        Utc::now()
    }

    fn notification(version: SignatureVersion, subject: Option<&str>, at: DateTime<Utc>) -> Value {
        let body = shared_signer()
            .notification(TOPIC, r#"{"version":"1.0"}"#, subject, at, version)
            .unwrap();
        serde_json::from_str(&body).unwrap()
    }

    fn confirmation(version: SignatureVersion, at: DateTime<Utc>) -> Value {
        let body = shared_signer()
            .subscription_confirmation(TOPIC, "token-123", at, version)
            .unwrap();
        serde_json::from_str(&body).unwrap()
    }

    fn bytes(value: &Value) -> Vec<u8> {
        serde_json::to_vec(value).unwrap()
    }

    async fn refusal(body: &Value) -> SnsRefusal {
        let (verifier, _) = verifier();
        verifier.verify(&bytes(body), now()).await.unwrap_err()
    }

    #[tokio::test]
    async fn notifications_of_both_signature_versions_verify() {
        let (verifier, fetcher) = verifier();
        let at = now();
        for version in [SignatureVersion::V1Sha1, SignatureVersion::V2Sha256] {
            for subject in [None, Some("Gate: web in prod")] {
                let body = notification(version, subject, at);
                let envelope = verifier.verify(&bytes(&body), at).await.unwrap();
                assert_eq!(envelope.message_type, SnsMessageType::Notification);
                assert_eq!(envelope.signature_version, version);
                assert_eq!(envelope.topic_arn, TOPIC);
                assert_eq!(envelope.message, r#"{"version":"1.0"}"#);
                assert_eq!(envelope.subject.as_deref(), subject);
                assert_eq!(envelope.message_id, body["MessageId"].as_str().unwrap());
                assert_eq!(envelope.timestamp.timestamp_millis(), at.timestamp_millis());
                assert_eq!(envelope.token, None);
                assert!(envelope.unsubscribe_url.is_some());
            }
        }
        assert_eq!(fetcher.calls(), 0);
    }

    #[tokio::test]
    async fn confirmations_of_both_signature_versions_verify() {
        let (verifier, _) = verifier();
        for version in [SignatureVersion::V1Sha1, SignatureVersion::V2Sha256] {
            let body = confirmation(version, now());
            let envelope = verifier.verify(&bytes(&body), now()).await.unwrap();
            assert_eq!(
                envelope.message_type,
                SnsMessageType::SubscriptionConfirmation
            );
            assert_eq!(envelope.token.as_deref(), Some("token-123"));
            assert_eq!(
                envelope.subscribe_url.as_deref(),
                body["SubscribeURL"].as_str()
            );
            assert_eq!(envelope.subject, None);
        }
    }

    #[tokio::test]
    async fn an_unsubscribe_confirmation_is_signed_like_a_subscription_confirmation() {
        let signer = shared_signer();
        let mut body = confirmation(SignatureVersion::V2Sha256, now());
        body["Type"] = json!("UnsubscribeConfirmation");
        let text = string_to_sign(&SignedFields {
            message_type: SnsMessageType::UnsubscribeConfirmation,
            message: body["Message"].as_str().unwrap(),
            message_id: body["MessageId"].as_str().unwrap(),
            timestamp: body["Timestamp"].as_str().unwrap(),
            topic_arn: TOPIC,
            extras: SignedExtras::Confirmation {
                subscribe_url: body["SubscribeURL"].as_str().unwrap(),
                token: body["Token"].as_str().unwrap(),
            },
        });
        body["Signature"] = json!(signer.sign(SignatureVersion::V2Sha256, &text).unwrap());
        let (verifier, _) = verifier();
        let envelope = verifier.verify(&bytes(&body), now()).await.unwrap();
        assert_eq!(
            envelope.message_type,
            SnsMessageType::UnsubscribeConfirmation
        );
    }

    #[test]
    fn the_string_to_sign_is_exactly_what_sns_documents() {
        let notification = |subject| SignedFields {
            message_type: SnsMessageType::Notification,
            message: "hello\nworld",
            message_id: "id-1",
            timestamp: "2026-01-02T03:04:05.678Z",
            topic_arn: "arn:t",
            extras: SignedExtras::Notification { subject },
        };
        assert_eq!(
            string_to_sign(&notification(Some("s"))),
            "Message\nhello\nworld\nMessageId\nid-1\nSubject\ns\nTimestamp\n2026-01-02T03:04:05.678Z\nTopicArn\narn:t\nType\nNotification\n"
        );
        assert_eq!(
            string_to_sign(&notification(None)),
            "Message\nhello\nworld\nMessageId\nid-1\nTimestamp\n2026-01-02T03:04:05.678Z\nTopicArn\narn:t\nType\nNotification\n"
        );
        let confirmation = SignedFields {
            message_type: SnsMessageType::SubscriptionConfirmation,
            message: "m",
            message_id: "id-2",
            timestamp: "t",
            topic_arn: "arn:t",
            extras: SignedExtras::Confirmation {
                subscribe_url: "https://s",
                token: "tok",
            },
        };
        assert_eq!(
            string_to_sign(&confirmation),
            "Message\nm\nMessageId\nid-2\nSubscribeURL\nhttps://s\nTimestamp\nt\nToken\ntok\nTopicArn\narn:t\nType\nSubscriptionConfirmation\n"
        );
    }

    /// The genuine AWS deliveries in `tests/fixtures/sns`, verified at their own Timestamp with
    /// the fixture directory as the pinned certificate directory.
    async fn verify_fixture(name: &str) -> (Value, Result<SnsEnvelope, SnsRefusal>, usize) {
        let body = std::fs::read(fixtures().join(name)).unwrap();
        let json: Value = serde_json::from_slice(&body).unwrap();
        let at: DateTime<Utc> = json["Timestamp"].as_str().unwrap().parse().unwrap();
        let fetcher = FakeFetcher::unreachable();
        let store = CertificateStore::new(fetcher.clone()).with_directory(fixtures());
        let verifier = SnsVerifier::new(
            vec![json["TopicArn"].as_str().unwrap().to_owned()],
            DEFAULT_MAX_AGE,
            Arc::new(store),
        );
        let result = verifier.verify(&body, at).await;
        (json, result, fetcher.calls())
    }

    #[tokio::test]
    async fn genuine_aws_signed_messages_of_both_versions_verify() {
        for (name, version, subject) in [
            (
                "aws-sdk-java-2015-notification-v1.json",
                SignatureVersion::V1Sha1,
                Some("this is raw"),
            ),
            (
                "aws-sdk-ruby-2022-notification-v1.json",
                SignatureVersion::V1Sha1,
                None,
            ),
            (
                "aws-sdk-ruby-2022-notification-v2.json",
                SignatureVersion::V2Sha256,
                None,
            ),
        ] {
            let (json, result, fetches) = verify_fixture(name).await;
            let envelope = result.unwrap_or_else(|refusal| panic!("{name}: {refusal}"));
            assert_eq!(envelope.signature_version, version, "{name}");
            assert_eq!(envelope.subject.as_deref(), subject, "{name}");
            assert_eq!(envelope.message, json["Message"].as_str().unwrap());
            assert_eq!(fetches, 0, "{name}: the pinned file is used");
        }
    }

    #[tokio::test]
    async fn a_tampered_genuine_message_is_refused() {
        for name in [
            "aws-sdk-java-2015-notification-v1.json",
            "aws-sdk-ruby-2022-notification-v2.json",
        ] {
            let (json, _, _) = verify_fixture(name).await;
            let at: DateTime<Utc> = json["Timestamp"].as_str().unwrap().parse().unwrap();
            let store =
                CertificateStore::new(FakeFetcher::unreachable()).with_directory(fixtures());
            let verifier = SnsVerifier::new(
                vec![json["TopicArn"].as_str().unwrap().to_owned()],
                DEFAULT_MAX_AGE,
                Arc::new(store),
            );
            let mut tampered = json.clone();
            tampered["Message"] = json!("Hello world!");
            assert_eq!(
                verifier.verify(&bytes(&tampered), at).await,
                Err(SnsRefusal::BadSignature),
                "{name}"
            );
            // The same signature read with the other hash does not verify either.
            let mut other_version = json.clone();
            let other = if json["SignatureVersion"] == "1" {
                "2"
            } else {
                "1"
            };
            other_version["SignatureVersion"] = json!(other);
            assert_eq!(
                verifier.verify(&bytes(&other_version), at).await,
                Err(SnsRefusal::BadSignature),
                "{name}"
            );
        }
    }

    #[tokio::test]
    async fn a_genuine_message_is_refused_once_it_is_old() {
        let body =
            std::fs::read(fixtures().join("aws-sdk-ruby-2022-notification-v2.json")).unwrap();
        let json: Value = serde_json::from_slice(&body).unwrap();
        let store = CertificateStore::new(FakeFetcher::unreachable()).with_directory(fixtures());
        let verifier = SnsVerifier::new(
            vec![json["TopicArn"].as_str().unwrap().to_owned()],
            DEFAULT_MAX_AGE,
            Arc::new(store),
        );
        let refusal = verifier.verify(&body, now()).await.unwrap_err();
        assert!(matches!(refusal, SnsRefusal::Stale { .. }), "{refusal:?}");
    }

    #[tokio::test]
    async fn a_bad_signature_is_refused() {
        let at = now();
        let mut body = notification(SignatureVersion::V2Sha256, None, at);
        let other = notification(SignatureVersion::V2Sha256, None, at);
        body["Signature"] = other["Signature"].clone();
        assert_eq!(refusal(&body).await, SnsRefusal::BadSignature);

        for garbage in ["", "not base64!", "aGVsbG8="] {
            body["Signature"] = json!(garbage);
            assert_eq!(refusal(&body).await, SnsRefusal::BadSignature, "{garbage}");
        }
    }

    #[tokio::test]
    async fn a_signature_by_another_key_is_refused() {
        // Same certificate URL and file name as the pinned one, but a different key.
        let impostor = SnsSigner::new("eu-west-1").unwrap();
        let body = impostor
            .notification(TOPIC, "approve", None, now(), SignatureVersion::V1Sha1)
            .unwrap();
        let (verifier, _) = verifier();
        assert_eq!(
            verifier.verify(body.as_bytes(), now()).await,
            Err(SnsRefusal::BadSignature)
        );
    }

    #[tokio::test]
    async fn every_signed_field_is_covered() {
        let at = now();
        for version in [SignatureVersion::V1Sha1, SignatureVersion::V2Sha256] {
            let body = notification(version, Some("subject"), at);
            for (field, value) in [
                ("Message", json!("{\"version\":\"1.0\"} ")),
                ("MessageId", json!("00000000-0000-4000-8000-000000000000")),
                ("Subject", json!("another subject")),
                (
                    "Timestamp",
                    json!((at - TimeDelta::seconds(1)).to_rfc3339()),
                ),
            ] {
                let mut tampered = body.clone();
                tampered[field] = value;
                assert_eq!(
                    refusal(&tampered).await,
                    SnsRefusal::BadSignature,
                    "{field}"
                );
            }
            let mut without_subject = body.clone();
            without_subject.as_object_mut().unwrap().remove("Subject");
            assert_eq!(refusal(&without_subject).await, SnsRefusal::BadSignature);

            let mut with_subject = notification(version, None, at);
            with_subject["Subject"] = json!("added");
            assert_eq!(refusal(&with_subject).await, SnsRefusal::BadSignature);

            let confirmation = confirmation(version, at);
            for field in ["Token", "SubscribeURL", "Message"] {
                let mut tampered = confirmation.clone();
                tampered[field] = json!("x");
                assert_eq!(
                    refusal(&tampered).await,
                    SnsRefusal::BadSignature,
                    "{field}"
                );
            }
            // A confirmation is not a notification: the Type is signed too.
            let mut retyped = confirmation.clone();
            retyped["Type"] = json!("UnsubscribeConfirmation");
            assert_eq!(refusal(&retyped).await, SnsRefusal::BadSignature);
        }
    }

    #[tokio::test]
    async fn fields_that_are_not_signed_are_not_passed_on() {
        let mut body = notification(SignatureVersion::V2Sha256, None, now());
        body["Token"] = json!("smuggled");
        body["SubscribeURL"] = json!("https://evil.example/");
        let (verifier, _) = verifier();
        let envelope = verifier.verify(&bytes(&body), now()).await.unwrap();
        assert_eq!(envelope.token, None);
        assert_eq!(envelope.subscribe_url, None);

        let mut body = confirmation(SignatureVersion::V2Sha256, now());
        body["Subject"] = json!("smuggled");
        let envelope = verifier.verify(&bytes(&body), now()).await.unwrap();
        assert_eq!(envelope.subject, None);
    }

    #[tokio::test]
    async fn an_unknown_signature_version_is_refused() {
        for version in [json!("3"), json!("0"), json!(""), json!("1 ")] {
            let mut body = notification(SignatureVersion::V1Sha1, None, now());
            body["SignatureVersion"] = version.clone();
            let refusal = refusal(&body).await;
            assert!(
                matches!(refusal, SnsRefusal::UnsupportedSignatureVersion(_)),
                "{version}: {refusal:?}"
            );
            assert_eq!(refusal.status(), StatusCode::FORBIDDEN);
        }
    }

    #[tokio::test]
    async fn untrusted_certificate_urls_are_refused_before_any_fetch() {
        for (url, expected) in [
            (
                format!("http://sns.eu-west-1.amazonaws.com/{REHEARSAL_CERT_FILE}"),
                CertUrlError::NotHttps,
            ),
            (
                format!("https://evil.example/{REHEARSAL_CERT_FILE}"),
                CertUrlError::ForeignHost,
            ),
            (
                format!("https://sns.eu-west-1.amazonaws.com.evil.example/{REHEARSAL_CERT_FILE}"),
                CertUrlError::ForeignHost,
            ),
            (
                format!("https://evilsns.eu-west-1.amazonaws.com/{REHEARSAL_CERT_FILE}"),
                CertUrlError::ForeignHost,
            ),
            (
                format!("https://sns.eu-west-1.amazonaws.com@evil.example/{REHEARSAL_CERT_FILE}"),
                CertUrlError::UserInfo,
            ),
            (
                format!("https://sns.eu-west-1.amazonaws.com:4443/{REHEARSAL_CERT_FILE}"),
                CertUrlError::Port,
            ),
            (
                "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-greenlight-rehearsal.crt"
                    .to_owned(),
                CertUrlError::NotPem,
            ),
        ] {
            let mut body = notification(SignatureVersion::V2Sha256, None, now());
            body["SigningCertURL"] = json!(url);
            let (verifier, fetcher) = verifier();
            let refusal = verifier.verify(&bytes(&body), now()).await.unwrap_err();
            assert_eq!(refusal, SnsRefusal::UntrustedCertUrl(expected), "{url}");
            assert_eq!(refusal.status(), StatusCode::FORBIDDEN);
            assert_eq!(fetcher.calls(), 0);
        }
    }

    #[tokio::test]
    async fn a_pinned_certificate_still_needs_a_trusted_url() {
        // The pin matches by file name, but the URL is checked first all the same.
        let mut body = notification(SignatureVersion::V2Sha256, None, now());
        body["SigningCertURL"] = json!(format!("https://evil.example/{REHEARSAL_CERT_FILE}"));
        assert_eq!(
            refusal(&body).await,
            SnsRefusal::UntrustedCertUrl(CertUrlError::ForeignHost)
        );
    }

    #[tokio::test]
    async fn an_unknown_topic_is_refused_without_a_fetch() {
        let signer = shared_signer();
        let body = signer
            .notification(
                "arn:aws:sns:eu-west-1:999999999999:someone-else",
                "hello",
                None,
                now(),
                SignatureVersion::V2Sha256,
            )
            .unwrap();
        let fetcher = FakeFetcher::serving(signer.certificate_pem());
        let verifier = SnsVerifier::new(
            vec![TOPIC.to_owned()],
            DEFAULT_MAX_AGE,
            Arc::new(CertificateStore::new(fetcher.clone())),
        );
        let refusal = verifier.verify(body.as_bytes(), now()).await.unwrap_err();
        assert!(
            matches!(refusal, SnsRefusal::TopicNotAllowed(_)),
            "{refusal:?}"
        );
        assert_eq!(refusal.status(), StatusCode::FORBIDDEN);
        assert!(!refusal.reason().contains("someone-else"));
        assert_eq!(fetcher.calls(), 0);

        let nobody = SnsVerifier::new(
            Vec::new(),
            DEFAULT_MAX_AGE,
            Arc::new(CertificateStore::new(fetcher)),
        );
        let body = notification(SignatureVersion::V2Sha256, None, now());
        assert!(matches!(
            nobody.verify(&bytes(&body), now()).await,
            Err(SnsRefusal::TopicNotAllowed(_))
        ));
    }

    #[tokio::test]
    async fn stale_and_future_timestamps_are_refused() {
        let (verifier, fetcher) = verifier();
        let at = now();
        let minutes = TimeDelta::minutes;
        for (sent, accepted) in [
            (at - minutes(59), true),
            (at - minutes(61), false),
            (at - TimeDelta::days(3), false),
            (at + minutes(4), true),
            (at + minutes(6), false),
        ] {
            let body = notification(SignatureVersion::V1Sha1, None, sent);
            let result = verifier.verify(&bytes(&body), at).await;
            match (accepted, result) {
                (true, Ok(_)) => {}
                (false, Err(refusal @ SnsRefusal::Stale { .. })) if sent < at => {
                    assert_eq!(refusal.status(), StatusCode::FORBIDDEN);
                }
                (false, Err(refusal @ SnsRefusal::FromTheFuture { .. })) if sent > at => {
                    assert_eq!(refusal.status(), StatusCode::FORBIDDEN);
                }
                (_, other) => panic!("sent {sent} at {at}: {other:?}"),
            }
        }
        assert_eq!(fetcher.calls(), 0);

        let strict = SnsVerifier::new(
            vec![TOPIC.to_owned()],
            Duration::from_secs(60),
            verifier.certificates.clone(),
        );
        let body = notification(SignatureVersion::V1Sha1, None, at - minutes(2));
        assert!(matches!(
            strict.verify(&bytes(&body), at).await,
            Err(SnsRefusal::Stale { .. })
        ));
    }

    #[tokio::test]
    async fn missing_fields_are_malformed() {
        let at = now();
        let required_everywhere = [
            "Type",
            "MessageId",
            "TopicArn",
            "Message",
            "Timestamp",
            "SignatureVersion",
            "Signature",
            "SigningCertURL",
        ];
        let notification = notification(SignatureVersion::V2Sha256, None, at);
        let confirmation = confirmation(SignatureVersion::V2Sha256, at);
        let cases = required_everywhere
            .iter()
            .map(|field| (&notification, *field))
            .chain(
                required_everywhere
                    .iter()
                    .chain(&["Token", "SubscribeURL"])
                    .map(|field| (&confirmation, *field)),
            );
        for (body, field) in cases {
            let mut body = body.clone();
            body.as_object_mut().unwrap().remove(field);
            let refusal = refusal(&body).await;
            assert_eq!(
                refusal,
                SnsRefusal::Malformed(format!("`{field}` is missing")),
                "{field}"
            );
            assert_eq!(refusal.status(), StatusCode::BAD_REQUEST);
        }
    }

    #[tokio::test]
    async fn what_is_not_an_sns_envelope_is_malformed() {
        let (verifier, _) = verifier();
        for body in [
            &b""[..],
            b"not json",
            b"<xml/>",
            b"[1,2]",
            b"\"text\"",
            b"{\"Type\":",
        ] {
            let refusal = verifier.verify(body, now()).await.unwrap_err();
            assert!(matches!(refusal, SnsRefusal::Malformed(_)), "{body:?}");
            assert_eq!(refusal.status(), StatusCode::BAD_REQUEST);
        }
        let good = notification(SignatureVersion::V2Sha256, None, now());
        for (field, value, detail) in [
            ("Type", json!("Notice"), "unknown `Type`"),
            ("Type", json!("notification"), "unknown `Type`"),
            (
                "Timestamp",
                json!("yesterday"),
                "`Timestamp` is not an RFC 3339 time",
            ),
            (
                "SignatureVersion",
                json!(1),
                "`SignatureVersion` is not a string",
            ),
            (
                "Message",
                json!({"nested": true}),
                "`Message` is not a string",
            ),
            ("Subject", json!(42), "`Subject` is not a string"),
            ("TopicArn", Value::Null, "`TopicArn` is missing"),
        ] {
            let mut body = good.clone();
            body[field] = value;
            let refusal = verifier.verify(&bytes(&body), now()).await.unwrap_err();
            assert_eq!(refusal, SnsRefusal::Malformed(detail.to_owned()), "{field}");
            assert_eq!(refusal.reason(), format!("malformed SNS message: {detail}"));
        }
    }

    #[tokio::test]
    async fn an_expired_or_not_yet_valid_certificate_is_refused() {
        let at = now();
        let day = TimeDelta::days;
        for (not_before, not_after) in [(at - day(400), at - day(35)), (at + day(1), at + day(30))]
        {
            let signer = SnsSigner::valid_between("eu-west-1", not_before, not_after).unwrap();
            let store = CertificateStore::new(FakeFetcher::unreachable());
            signer.pin_into(&store).unwrap();
            let verifier =
                SnsVerifier::new(vec![TOPIC.to_owned()], DEFAULT_MAX_AGE, Arc::new(store));
            let body = signer
                .notification(TOPIC, "m", None, at, SignatureVersion::V2Sha256)
                .unwrap();
            let refusal = verifier.verify(body.as_bytes(), at).await.unwrap_err();
            assert!(
                matches!(refusal, SnsRefusal::CertificateNotValid { .. }),
                "{refusal:?}"
            );
            assert_eq!(refusal.status(), StatusCode::FORBIDDEN);
        }
    }

    #[tokio::test]
    async fn an_unparsable_certificate_is_refused() {
        let directory = tempfile::tempdir().unwrap();
        std::fs::write(
            directory.path().join(REHEARSAL_CERT_FILE),
            "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let from_directory =
            CertificateStore::new(FakeFetcher::unreachable()).with_directory(directory.path());
        let fetched = CertificateStore::new(FakeFetcher::serving("<html>hello</html>"));
        for store in [from_directory, fetched] {
            let verifier =
                SnsVerifier::new(vec![TOPIC.to_owned()], DEFAULT_MAX_AGE, Arc::new(store));
            let body = notification(SignatureVersion::V2Sha256, None, now());
            let refusal = verifier.verify(&bytes(&body), now()).await.unwrap_err();
            assert!(
                matches!(refusal, SnsRefusal::UnusableCertificate(_)),
                "{refusal:?}"
            );
            assert_eq!(refusal.status(), StatusCode::FORBIDDEN);
        }
    }

    #[tokio::test]
    async fn a_failed_fetch_asks_sns_to_retry_and_a_refused_one_does_not() {
        for (error, status) in [
            (
                AdapterError::retryable("sns:GetSigningCertificate", "no answer within 3s"),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                AdapterError::permanent("sns:GetSigningCertificate", "answered 404 Not Found"),
                StatusCode::FORBIDDEN,
            ),
        ] {
            let store = CertificateStore::new(FakeFetcher::failing(error.clone()));
            let verifier =
                SnsVerifier::new(vec![TOPIC.to_owned()], DEFAULT_MAX_AGE, Arc::new(store));
            let body = notification(SignatureVersion::V2Sha256, None, now());
            let refusal = verifier.verify(&bytes(&body), now()).await.unwrap_err();
            assert_eq!(refusal.status(), status, "{error}: {refusal:?}");
        }
    }

    #[tokio::test]
    async fn a_fetched_certificate_is_fetched_once_for_many_messages() {
        let fetcher = FakeFetcher::serving(shared_signer().certificate_pem());
        let verifier = SnsVerifier::new(
            vec![TOPIC.to_owned()],
            DEFAULT_MAX_AGE,
            Arc::new(CertificateStore::new(fetcher.clone())),
        );
        for version in [SignatureVersion::V1Sha1, SignatureVersion::V2Sha256] {
            let body = notification(version, None, now());
            verifier.verify(&bytes(&body), now()).await.unwrap();
        }
        assert_eq!(fetcher.calls(), 1);
    }

    #[tokio::test]
    async fn the_checks_run_in_the_documented_order() {
        // Each step breaks one more check than the next; the earliest broken check answers.
        let mut body = notification(SignatureVersion::V2Sha256, None, now());
        body["Signature"] = json!("AAAA");
        assert_eq!(refusal(&body).await.code(), "bad_signature");
        body["SigningCertURL"] = json!("http://evil.example/x.pem");
        assert_eq!(refusal(&body).await.code(), "untrusted_cert_url");
        body["SignatureVersion"] = json!("9");
        assert_eq!(refusal(&body).await.code(), "unsupported_signature_version");
        body["Timestamp"] = json!("2001-01-01T00:00:00.000Z");
        assert_eq!(refusal(&body).await.code(), "stale");
        body["TopicArn"] = json!("arn:aws:sns:eu-west-1:999999999999:other");
        assert_eq!(refusal(&body).await.code(), "topic_not_allowed");
        body.as_object_mut().unwrap().remove("MessageId");
        assert_eq!(refusal(&body).await.code(), "malformed");
    }

    #[test]
    fn reasons_are_short_and_statuses_are_documented() {
        let at = Utc::now();
        for (refusal, status) in [
            (SnsRefusal::Malformed("`Type` is missing".into()), 400),
            (SnsRefusal::TopicNotAllowed("arn:secret".into()), 403),
            (
                SnsRefusal::Stale {
                    timestamp: at,
                    now: at,
                    max_age: DEFAULT_MAX_AGE,
                },
                403,
            ),
            (
                SnsRefusal::FromTheFuture {
                    timestamp: at,
                    now: at,
                },
                403,
            ),
            (
                SnsRefusal::UnsupportedSignatureVersion("<script>".into()),
                403,
            ),
            (SnsRefusal::UntrustedCertUrl(CertUrlError::ForeignHost), 403),
            (
                SnsRefusal::UnusableCertificate("internal detail".into()),
                403,
            ),
            (
                SnsRefusal::CertificateNotValid {
                    not_before: at,
                    not_after: at,
                    timestamp: at,
                },
                403,
            ),
            (
                SnsRefusal::CertificateUnavailable("internal detail".into()),
                503,
            ),
            (SnsRefusal::BadSignature, 403),
        ] {
            assert_eq!(refusal.status().as_u16(), status, "{refusal:?}");
            let reason = refusal.reason();
            assert!(reason.len() < 80, "{reason}");
            for secret in ["arn:secret", "<script>", "internal detail"] {
                assert!(!reason.contains(secret), "{reason}");
            }
        }
    }
}
