//! Attestation trust: the roots that an organization's AAGUID allow and deny lists are verified
//! against (`webauthn.attestation_roots`), and the authenticator model a verified attestation
//! proves. A key's AAGUID outside a verified attestation is only a claim: anyone can write one.

use std::path::Path;
use std::time::SystemTime;

use uuid::Uuid;
use webauthn_rs_core::attestation::verify_attestation_ca_chain;
use webauthn_rs_core::proto::{AttestationCaList, AttestationMetadata, Credential};

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// Parses a PEM bundle of attestation root certificates. Each root vouches for every model it
/// signs; the organization's lists decide which models are welcome.
pub fn parse_roots(pem: &str) -> Result<AttestationCaList, String> {
    let mut roots = AttestationCaList::default();
    let mut rest = pem;
    let mut count = 0;
    while let Some(start) = rest.find(BEGIN) {
        count += 1;
        let block = &rest[start..];
        let end = block.find(END).ok_or_else(|| format!("certificate {count} has no {END} line"))? + END.len();
        let one = AttestationCaList::try_from(&block.as_bytes()[..end])
            .map_err(|err| format!("certificate {count} is not a valid X.509 certificate: {err}"))?;
        roots.union(&one);
        rest = &block[end..];
    }
    if roots.is_empty() {
        return Err(format!("no certificate ({BEGIN}) found"));
    }
    Ok(roots)
}

/// Reads and parses the PEM bundle at `path`.
pub fn load_roots(path: &Path) -> Result<AttestationCaList, String> {
    let text = std::fs::read_to_string(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    parse_roots(&text)
}

/// The model (AAGUID) that `credential`'s attestation proves: only when its certificate chain
/// verifies against `roots` as of `at` (the registration time, so a key's attestation does not
/// lapse with its certificate) and the format carries an AAGUID (packed, TPM).
pub fn verified_model(credential: &Credential, roots: &AttestationCaList, at: SystemTime) -> Option<Uuid> {
    let ca = verify_attestation_ca_chain(&credential.attestation.data, roots, at).ok()??;
    let aaguid = match credential.attestation.metadata {
        AttestationMetadata::Packed { aaguid } | AttestationMetadata::Tpm { aaguid, .. } => aaguid,
        _ => return None,
    };
    (!aaguid.is_nil() && (ca.blanket_allow() || ca.aaguids().contains_key(&aaguid))).then_some(aaguid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_without_certificates_are_refused() {
        assert!(parse_roots("").unwrap_err().contains("no certificate"));
        assert!(parse_roots("hello").is_err());
        let unterminated = format!("{BEGIN}\nMIIB\n");
        assert!(parse_roots(&unterminated).unwrap_err().contains("END"));
        let garbage = format!("{BEGIN}\nbm90IGEgY2VydGlmaWNhdGU=\n{END}\n");
        assert!(parse_roots(&garbage).unwrap_err().contains("certificate 1"));
    }

    #[test]
    fn a_bundle_loads_every_root() {
        use crypto_glue::traits::{EncodePem, LineEndingPem};
        use webauthn_authenticator_rs::softtoken::SoftToken;
        let pems: Vec<String> =
            (0..2).map(|_| SoftToken::new(true).unwrap().1.to_pem(LineEndingPem::LF).unwrap()).collect();
        assert_eq!(parse_roots(&pems[0]).unwrap().len(), 1);
        let bundle = format!("# vendor A\n{}\n# vendor B\n{}", pems[0], pems[1]);
        assert_eq!(parse_roots(&bundle).unwrap().len(), 2);
    }
}
