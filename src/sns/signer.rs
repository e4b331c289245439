//! A stand-in for Amazon SNS's signing: a throwaway RSA key and self-signed certificate that sign
//! complete HTTP(S) delivery bodies, for the local rehearsal and for tests.
//!
//! The rehearsal pins [`SnsSigner::certificate_pem`] into the bot's [`CertificateStore`] under
//! [`REHEARSAL_CERT_FILE`], and its bodies name a `SigningCertURL` on a real SNS host, so they pass
//! through exactly the checks a real delivery does, with nothing fetched.
//!
//! aws-lc-rs verifies SHA1withRSA but will not sign with it (its signing encodings start at
//! SHA-256). SignatureVersion 1 is therefore signed here by hand: PKCS#1 v1.5 padding of the SHA-1
//! DigestInfo (RFC 8017, section 9.2) and the RSA private-key operation with `num-bigint`
//! (already in the tree through x509-parser), and every such signature is checked with aws-lc-rs's
//! verifier before it is handed out. That arithmetic is not constant-time, which is why this
//! signer only ever holds keys it generated itself and throws away.
//!
//! The key and certificate are made with rcgen, which comes with the `rehearsal` feature (on by
//! default, off in the Lambda package): without it the type is still here, but cannot be made.

use std::fmt;

use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{
    KeyPair as _, RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_SHA256, UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
#[cfg(feature = "rehearsal")]
use chrono::TimeDelta;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
#[cfg(feature = "rehearsal")]
use x509_parser::der_parser::parse_der;
use x509_parser::num_bigint::BigUint;

use super::certificates::{CertificateError, CertificateStore};
#[cfg(feature = "rehearsal")]
use super::certificates::{SigningCertUrl, is_region};
use super::verify::{SignatureVersion, SignedExtras, SignedFields, SnsMessageType, string_to_sign};

/// The file name of the rehearsal certificate, in the shape of SNS's own.
pub const REHEARSAL_CERT_FILE: &str = "SimpleNotificationService-greenlight-rehearsal.pem";

/// The signer could not be made, or could not sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerError {
    #[error("`{0}` is not an AWS region name")]
    BadRegion(String),
    #[error("could not make the throwaway key or certificate: {0}")]
    Generate(String),
    #[error("could not sign: {0}")]
    Sign(&'static str),
}

/// Signs SNS delivery bodies with a throwaway key. See the module documentation.
pub struct SnsSigner {
    region: String,
    cert_url: String,
    certificate_pem: String,
    key: RsaKeyPair,
    legacy: LegacyRsaKey,
}

impl fmt::Debug for SnsSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnsSigner")
            .field("region", &self.region)
            .field("cert_url", &self.cert_url)
            .finish_non_exhaustive()
    }
}

impl SnsSigner {
    /// A new RSA-2048 key and a self-signed certificate for `sns.amazonaws.com`, valid from a
    /// day ago for a year, announced at `https://sns.<region>.amazonaws.com/` + [`REHEARSAL_CERT_FILE`].
    #[cfg(feature = "rehearsal")]
    pub fn new(region: &str) -> Result<SnsSigner, SignerError> {
        let now = Utc::now();
        SnsSigner::valid_between(region, now - TimeDelta::days(1), now + TimeDelta::days(365))
    }

    /// Like [`new`](SnsSigner::new), with a certificate valid from `not_before` to `not_after`
    /// (whole seconds), e.g. an expired one.
    #[cfg(feature = "rehearsal")]
    pub fn valid_between(
        region: &str,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
    ) -> Result<SnsSigner, SignerError> {
        if !is_region(region) {
            return Err(SignerError::BadRegion(region.to_owned()));
        }
        let cert_url = format!("https://sns.{region}.amazonaws.com/{REHEARSAL_CERT_FILE}");
        // The signer must produce what the verifier accepts; a mismatch is a bug here.
        SigningCertUrl::parse(&cert_url)
            .map_err(|error| SignerError::Generate(format!("certificate URL {error}")))?;

        let generate = |error: rcgen::Error| SignerError::Generate(error.to_string());
        let key_pair =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .map_err(generate)?;
        let mut params = rcgen::CertificateParams::new(vec!["sns.amazonaws.com".to_owned()])
            .map_err(generate)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "sns.amazonaws.com");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "greenlight rehearsal");
        params.not_before = offset_date_time(not_before)?;
        params.not_after = offset_date_time(not_after)?;
        let certificate = params.self_signed(&key_pair).map_err(generate)?;

        let pkcs8 = key_pair.serialize_der();
        let key = RsaKeyPair::from_pkcs8(&pkcs8).map_err(|error| {
            SignerError::Generate(format!("aws-lc-rs refused the key: {error}"))
        })?;
        let legacy = LegacyRsaKey::from_pkcs8(&pkcs8)?;
        Ok(SnsSigner {
            region: region.to_owned(),
            cert_url,
            certificate_pem: certificate.pem(),
            key,
            legacy,
        })
    }

    /// The certificate, as SNS would serve it at [`cert_url`](SnsSigner::cert_url).
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The `SigningCertURL` the bodies carry.
    pub fn cert_url(&self) -> &str {
        &self.cert_url
    }

    /// The name the certificate is pinned under: [`REHEARSAL_CERT_FILE`].
    pub fn cert_file_name(&self) -> &'static str {
        REHEARSAL_CERT_FILE
    }

    /// Pins this signer's certificate into `store`, so its bodies verify without a fetch.
    pub fn pin_into(&self, store: &CertificateStore) -> Result<(), CertificateError> {
        store.pin(REHEARSAL_CERT_FILE, self.certificate_pem.as_bytes())
    }

    /// A complete, signed `Notification` body, as SNS POSTs it.
    pub fn notification(
        &self,
        topic_arn: &str,
        message: &str,
        subject: Option<&str>,
        timestamp: DateTime<Utc>,
        version: SignatureVersion,
    ) -> Result<String, SignerError> {
        let message_id = random_uuid()?;
        let timestamp = wire_timestamp(timestamp);
        let signature = self.sign(
            version,
            &string_to_sign(&SignedFields {
                message_type: SnsMessageType::Notification,
                message,
                message_id: &message_id,
                timestamp: &timestamp,
                topic_arn,
                extras: SignedExtras::Notification { subject },
            }),
        )?;
        let unsubscribe_url = format!(
            "https://sns.{}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic_arn}:{}",
            self.region,
            random_uuid()?
        );
        to_json(&WireBody {
            kind: SnsMessageType::Notification.as_str(),
            message_id: &message_id,
            token: None,
            topic_arn,
            subject,
            message,
            subscribe_url: None,
            timestamp: &timestamp,
            signature_version: version.as_str(),
            signature: &signature,
            signing_cert_url: &self.cert_url,
            unsubscribe_url: Some(&unsubscribe_url),
        })
    }

    /// A complete, signed `SubscriptionConfirmation` body carrying `token`.
    pub fn subscription_confirmation(
        &self,
        topic_arn: &str,
        token: &str,
        timestamp: DateTime<Utc>,
        version: SignatureVersion,
    ) -> Result<String, SignerError> {
        let message_id = random_uuid()?;
        let timestamp = wire_timestamp(timestamp);
        let message = format!(
            "You have chosen to subscribe to the topic {topic_arn}.\n\
             To confirm the subscription, visit the SubscribeURL included in this message."
        );
        let subscribe_url = url::Url::parse_with_params(
            &format!("https://sns.{}.amazonaws.com/", self.region),
            [
                ("Action", "ConfirmSubscription"),
                ("TopicArn", topic_arn),
                ("Token", token),
            ],
        )
        .map_err(|_| SignerError::Sign("could not build the SubscribeURL"))?
        .to_string();
        let signature = self.sign(
            version,
            &string_to_sign(&SignedFields {
                message_type: SnsMessageType::SubscriptionConfirmation,
                message: &message,
                message_id: &message_id,
                timestamp: &timestamp,
                topic_arn,
                extras: SignedExtras::Confirmation {
                    subscribe_url: &subscribe_url,
                    token,
                },
            }),
        )?;
        to_json(&WireBody {
            kind: SnsMessageType::SubscriptionConfirmation.as_str(),
            message_id: &message_id,
            token: Some(token),
            topic_arn,
            subject: None,
            message: &message,
            subscribe_url: Some(&subscribe_url),
            timestamp: &timestamp,
            signature_version: version.as_str(),
            signature: &signature,
            signing_cert_url: &self.cert_url,
            unsubscribe_url: None,
        })
    }

    /// The base64 signature of `string_to_sign` under `version`.
    pub fn sign(
        &self,
        version: SignatureVersion,
        string_to_sign: &str,
    ) -> Result<String, SignerError> {
        let signature = match version {
            SignatureVersion::V2Sha256 => {
                let mut signature = vec![0; self.key.public_modulus_len()];
                self.key
                    .sign(
                        &RSA_PKCS1_SHA256,
                        &SystemRandom::new(),
                        string_to_sign.as_bytes(),
                        &mut signature,
                    )
                    .map_err(|_| SignerError::Sign("aws-lc-rs could not sign"))?;
                signature
            }
            SignatureVersion::V1Sha1 => {
                let signature = self.legacy.sign_sha1(string_to_sign.as_bytes())?;
                UnparsedPublicKey::new(
                    &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                    self.key.public_key().as_ref(),
                )
                .verify(string_to_sign.as_bytes(), &signature)
                .map_err(|_| SignerError::Sign("the SHA1withRSA signature does not verify"))?;
                signature
            }
        };
        Ok(BASE64.encode(signature))
    }
}

/// The fields of a delivery body, in the order SNS writes them.
#[derive(Serialize)]
struct WireBody<'a> {
    #[serde(rename = "Type")]
    kind: &'a str,
    #[serde(rename = "MessageId")]
    message_id: &'a str,
    #[serde(rename = "Token", skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    #[serde(rename = "TopicArn")]
    topic_arn: &'a str,
    #[serde(rename = "Subject", skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    #[serde(rename = "Message")]
    message: &'a str,
    #[serde(rename = "SubscribeURL", skip_serializing_if = "Option::is_none")]
    subscribe_url: Option<&'a str>,
    #[serde(rename = "Timestamp")]
    timestamp: &'a str,
    #[serde(rename = "SignatureVersion")]
    signature_version: &'a str,
    #[serde(rename = "Signature")]
    signature: &'a str,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: &'a str,
    #[serde(rename = "UnsubscribeURL", skip_serializing_if = "Option::is_none")]
    unsubscribe_url: Option<&'a str>,
}

fn to_json(body: &WireBody<'_>) -> Result<String, SignerError> {
    serde_json::to_string_pretty(body).map_err(|_| SignerError::Sign("could not write the JSON"))
}

/// SNS's timestamp format: UTC, milliseconds, `Z`.
fn wire_timestamp(timestamp: DateTime<Utc>) -> String {
    timestamp.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A random (version 4) UUID, as SNS's message ids are.
fn random_uuid() -> Result<String, SignerError> {
    let mut bytes: [u8; 16] = aws_lc_rs::rand::generate(&SystemRandom::new())
        .map_err(|_| SignerError::Sign("no randomness"))?
        .expose();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Ok(crate::domain::text::uuid_text(&bytes))
}

/// rcgen's certificate validity is a `time::OffsetDateTime`.
#[cfg(feature = "rehearsal")]
fn offset_date_time(instant: DateTime<Utc>) -> Result<time::OffsetDateTime, SignerError> {
    time::OffsetDateTime::from_unix_timestamp(instant.timestamp())
        .map_err(|_| SignerError::Generate(format!("{instant} is out of range for a certificate")))
}

/// The parts of an RSA private key the PKCS#1 v1.5 signature needs, for the CRT form of the
/// private-key operation (RFC 8017, section 5.1.2).
struct LegacyRsaKey {
    /// The modulus length in bytes: the signature's length.
    k: usize,
    p: BigUint,
    q: BigUint,
    dp: BigUint,
    dq: BigUint,
    q_inv: BigUint,
}

/// The DER `DigestInfo` prefix of a SHA-1 digest (RFC 8017, section 9.2, note 1).
const SHA1_DIGEST_INFO: [u8; 15] = [
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
];

impl LegacyRsaKey {
    /// Reads the `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo`.
    #[cfg(feature = "rehearsal")]
    fn from_pkcs8(pkcs8: &[u8]) -> Result<LegacyRsaKey, SignerError> {
        let bad = |what: &str| SignerError::Generate(format!("unexpected PKCS#8 key: {what}"));
        let (_, info) = parse_der(pkcs8).map_err(|_| bad("not DER"))?;
        let info = info.as_sequence().map_err(|_| bad("not a sequence"))?;
        let private_key = info
            .get(2)
            .and_then(|octets| octets.as_slice().ok())
            .ok_or_else(|| bad("no private key octets"))?;
        let (_, rsa) = parse_der(private_key).map_err(|_| bad("RSAPrivateKey not DER"))?;
        let rsa = rsa
            .as_sequence()
            .map_err(|_| bad("RSAPrivateKey not a sequence"))?;
        let integer = |index: usize| {
            rsa.get(index)
                .and_then(|value| value.as_biguint().ok())
                .ok_or_else(|| bad("missing RSAPrivateKey component"))
        };
        // RSAPrivateKey ::= SEQUENCE { version, n, e, d, p, q, dP, dQ, qInv }
        let n = integer(1)?;
        Ok(LegacyRsaKey {
            k: usize::try_from(n.bits().div_ceil(8)).map_err(|_| bad("modulus too long"))?,
            p: integer(4)?,
            q: integer(5)?,
            dp: integer(6)?,
            dq: integer(7)?,
            q_inv: integer(8)?,
        })
    }

    /// RSASSA-PKCS1-v1_5 with SHA-1 (RFC 8017, section 8.2.1).
    fn sign_sha1(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        let hash = digest(&SHA1_FOR_LEGACY_USE_ONLY, message);
        self.sign_digest_info(&SHA1_DIGEST_INFO, hash.as_ref())
    }

    /// The PKCS#1 v1.5 signature of a hash, given the DER `DigestInfo` prefix of its algorithm.
    fn sign_digest_info(&self, digest_info: &[u8], hash: &[u8]) -> Result<Vec<u8>, SignerError> {
        let t_len = digest_info.len() + hash.len();
        let padding = self
            .k
            .checked_sub(t_len + 3)
            .filter(|padding| *padding >= 8)
            .ok_or(SignerError::Sign("the key is too short"))?;
        // EM = 0x00 || 0x01 || PS (0xff…) || 0x00 || DigestInfo || H
        let mut encoded = Vec::with_capacity(self.k);
        encoded.extend_from_slice(&[0x00, 0x01]);
        encoded.resize(2 + padding, 0xff);
        encoded.push(0x00);
        encoded.extend_from_slice(digest_info);
        encoded.extend_from_slice(hash);
        let m = BigUint::from_bytes_be(&encoded);

        let s1 = m.modpow(&self.dp, &self.p);
        let s2 = m.modpow(&self.dq, &self.q);
        // h = qInv · (s1 − s2) mod p, kept non-negative by adding p first.
        let h = (&self.q_inv * ((&s1 + &self.p) - (&s2 % &self.p))) % &self.p;
        let s = s2 + h * &self.q;

        let bytes = s.to_bytes_be();
        let mut signature = vec![0; self.k.saturating_sub(bytes.len())];
        signature.extend_from_slice(&bytes);
        if signature.len() != self.k {
            return Err(SignerError::Sign("signature longer than the modulus"));
        }
        Ok(signature)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::OnceLock;

    use aws_lc_rs::digest::SHA256;
    use serde_json::Value;

    use super::*;
    use crate::sns::SigningCertificate;

    /// One signer for the whole test binary: RSA key generation is the slow part.
    pub(crate) fn shared_signer() -> &'static SnsSigner {
        static SIGNER: OnceLock<SnsSigner> = OnceLock::new();
        SIGNER.get_or_init(|| SnsSigner::new("eu-west-1").unwrap())
    }

    /// The DER `DigestInfo` prefix of a SHA-256 digest (RFC 8017, section 9.2, note 1).
    const SHA256_DIGEST_INFO: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];

    #[test]
    fn the_hand_rolled_rsa_signs_exactly_like_aws_lc_rs() {
        // PKCS#1 v1.5 is deterministic, so on SHA-256 (which aws-lc-rs can sign) the hand-rolled
        // padding and CRT arithmetic must give aws-lc-rs's bytes exactly.
        let signer = shared_signer();
        let message = b"Message\nhello\nType\nNotification\n";
        let mut expected = vec![0; signer.key.public_modulus_len()];
        signer
            .key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut expected,
            )
            .unwrap();
        let hash = digest(&SHA256, message);
        let ours = signer
            .legacy
            .sign_digest_info(&SHA256_DIGEST_INFO, hash.as_ref())
            .unwrap();
        assert_eq!(ours, expected);
    }

    #[test]
    fn both_signature_versions_verify_with_the_certificate_key() {
        let signer = shared_signer();
        let certificate =
            SigningCertificate::from_pem(signer.certificate_pem().as_bytes()).unwrap();
        let text = "Message\nhi\n";
        for (version, algorithm) in [
            (
                SignatureVersion::V1Sha1,
                &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            ),
            (
                SignatureVersion::V2Sha256,
                &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            ),
        ] {
            let signature = BASE64.decode(signer.sign(version, text).unwrap()).unwrap();
            assert_eq!(signature.len(), 256);
            UnparsedPublicKey::new(algorithm, certificate.public_key())
                .verify(text.as_bytes(), &signature)
                .unwrap();
        }
    }

    #[test]
    fn the_certificate_looks_like_sns_and_is_valid_now() {
        let signer = shared_signer();
        assert_eq!(
            signer.cert_url(),
            "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-greenlight-rehearsal.pem"
        );
        assert_eq!(
            SigningCertUrl::parse(signer.cert_url())
                .unwrap()
                .file_name(),
            signer.cert_file_name()
        );
        let certificate =
            SigningCertificate::from_pem(signer.certificate_pem().as_bytes()).unwrap();
        assert!(certificate.subject().contains("CN=sns.amazonaws.com"));
        assert!(certificate.covers(Utc::now()));
    }

    #[test]
    fn bodies_carry_what_sns_sends() {
        let signer = shared_signer();
        let at: DateTime<Utc> = "2026-03-01T12:00:00.5Z".parse().unwrap();
        let topic = "arn:aws:sns:eu-west-1:123456789012:gates";

        let body = signer
            .notification(
                topic,
                "{\"a\":1}",
                Some("subject"),
                at,
                SignatureVersion::V1Sha1,
            )
            .unwrap();
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["Type"], "Notification");
        assert_eq!(json["Timestamp"], "2026-03-01T12:00:00.500Z");
        assert_eq!(json["SignatureVersion"], "1");
        assert_eq!(json["Subject"], "subject");
        assert_eq!(json["Message"], "{\"a\":1}");
        assert_eq!(json["SigningCertURL"], signer.cert_url());
        assert!(json.get("Token").is_none());
        let id = json["MessageId"].as_str().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4", "a version 4 UUID: {id}");

        let body = signer
            .subscription_confirmation(topic, "tok&en", at, SignatureVersion::V2Sha256)
            .unwrap();
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["Type"], "SubscriptionConfirmation");
        assert_eq!(json["SignatureVersion"], "2");
        assert_eq!(json["Token"], "tok&en");
        assert_eq!(
            json["SubscribeURL"],
            "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn%3Aaws%3Asns%3Aeu-west-1%3A123456789012%3Agates&Token=tok%26en"
        );
        assert!(json.get("Subject").is_none());
        assert_ne!(json["MessageId"], id, "every message gets its own id");
    }

    #[test]
    fn a_signer_needs_a_region() {
        for bad in ["", "evil.example/x", "us-east-1.evil"] {
            assert!(
                matches!(SnsSigner::new(bad), Err(SignerError::BadRegion(_))),
                "{bad}"
            );
        }
    }
}
