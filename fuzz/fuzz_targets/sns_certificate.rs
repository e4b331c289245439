//! What a certificate fetch brings back from outside: the `SigningCertURL` a message names
//! (`SigningCertUrl::parse`, which decides whether it is trusted at all) and the PEM body at it
//! (`SigningCertificate::from_pem`). The input is a URL line, then the PEM.
#![no_main]

use greenlight::sns::{SigningCertUrl, SigningCertificate};
use greenlight_fuzz::fixture_now;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (line, pem) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    if let Ok(text) = std::str::from_utf8(line)
        && let Ok(url) = SigningCertUrl::parse(text)
    {
        // A trusted URL is HTTPS on an SNS host, and its file name cannot leave a directory.
        assert!(url.as_str().starts_with("https://sns."));
        let name = url.file_name();
        assert!(!name.is_empty() && !name.starts_with('.') && !name.contains('/'));
    }
    if let Ok(certificate) = SigningCertificate::from_pem(pem) {
        let _ = certificate.covers(fixture_now());
        let _ = (
            certificate.subject(),
            certificate.not_before(),
            certificate.not_after(),
        );
    }
});
