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
