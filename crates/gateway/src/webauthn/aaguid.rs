//! Authenticator models: the AAGUID from a registration's authenticator data, and its name from
//! the community list shipped in `data/aaguids.json`.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;
use uuid::Uuid;
use webauthn_rs_core::internals::AuthenticatorData;
use webauthn_rs_core::proto::Registration;

static NAMES: LazyLock<HashMap<Uuid, String>> = LazyLock::new(|| {
    let raw: HashMap<String, String> =
        serde_json::from_str(include_str!("../../data/aaguids.json")).unwrap_or_default();
    raw.into_iter().filter_map(|(k, v)| Some((k.parse().ok()?, v.trim().to_owned()))).collect()
});

/// The model name of an authenticator, when the list knows it.
pub fn model_name(aaguid: &Uuid) -> Option<&'static str> {
    NAMES.get(aaguid).map(String::as_str)
}

/// Every model the list names, sorted by name (then AAGUID, for models sharing a name).
pub fn all_models() -> Vec<(Uuid, &'static str)> {
    let mut models: Vec<(Uuid, &'static str)> = NAMES.iter().map(|(id, name)| (*id, name.as_str())).collect();
    models.sort_by(|a, b| a.1.to_lowercase().cmp(&b.1.to_lowercase()).then(a.0.cmp(&b.0)));
    models
}

#[derive(Deserialize)]
struct AttestationObject {
    #[serde(rename = "authData", with = "serde_bytes_compat")]
    auth_data: Vec<u8>,
}

mod serde_bytes_compat {
    //! `authData` is a CBOR byte string.
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        match serde_cbor_2::Value::deserialize(d)? {
            serde_cbor_2::Value::Bytes(bytes) => Ok(bytes),
            _ => Err(serde::de::Error::custom("authData is not a byte string")),
        }
    }
}

/// The AAGUID in a registration's attestation object; `None` when absent or all zeros.
pub fn from_attestation_object(attestation_object: &[u8]) -> Option<Uuid> {
    let object: AttestationObject = serde_cbor_2::from_slice(attestation_object).ok()?;
    let data = AuthenticatorData::<Registration>::try_from(object.auth_data.as_slice()).ok()?;
    let aaguid = Uuid::from_slice(&data.acd?.aaguid).ok()?;
    (!aaguid.is_nil()).then_some(aaguid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_loads() {
        assert!(NAMES.len() > 10, "data/aaguids.json has {} entries", NAMES.len());
        let gpm: Uuid = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4".parse().unwrap();
        assert_eq!(model_name(&gpm), Some("Google Password Manager"));
        assert_eq!(model_name(&Uuid::nil()), None);
        let all = all_models();
        assert_eq!(all.len(), NAMES.len());
        assert!(all.windows(2).all(|w| w[0].1.to_lowercase() <= w[1].1.to_lowercase()), "sorted by name");
    }

    #[test]
    fn garbage_has_no_aaguid() {
        assert_eq!(from_attestation_object(b"not cbor"), None);
    }
}
