//! A software authenticator whose flags, counter and model the test chooses: backup eligibility
//! (BE), backup state (BS), the signature counter and the AAGUID it claims, with `none`
//! attestation (its model is a claim nobody vouches for). `SoftPasskey` fixes all of these, so the
//! rules about them could not be driven end to end with it.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use crypto_glue::ecdsa_p256::{self, EcdsaP256PublicSec1Point, EcdsaP256Signature, EcdsaP256SigningKey};
use crypto_glue::traits::Signer;
use serde_cbor_2::Value as Cbor;
use sha2::{Digest, Sha256};
use webauthn_authenticator_rs::AuthenticatorBackendHashedClientData;
use webauthn_authenticator_rs::prelude::WebauthnCError;
use webauthn_rs_core::proto::{
    AuthenticatorAssertionResponseRaw, AuthenticatorAttestationResponseRaw, PublicKeyCredential,
    PublicKeyCredentialCreationOptions, PublicKeyCredentialRequestOptions, RegisterPublicKeyCredential,
};

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const BE: u8 = 0x08;
const BS: u8 = 0x10;
const AT: u8 = 0x40;

/// The authenticator; change its public fields between ceremonies.
pub struct FlagKey {
    /// The model it claims.
    pub aaguid: uuid::Uuid,
    /// BE flag.
    pub backup_eligible: bool,
    /// BS flag.
    pub backed_up: bool,
    /// The signature counter the next assertion reports; it goes up by one after each.
    pub counter: u32,
    keys: HashMap<Vec<u8>, EcdsaP256SigningKey>,
}

impl FlagKey {
    /// A device-bound key (BE and BS clear) claiming `aaguid`, counter 1.
    pub fn new(aaguid: uuid::Uuid) -> Self {
        Self { aaguid, backup_eligible: false, backed_up: false, counter: 1, keys: HashMap::new() }
    }

    fn flags(&self) -> u8 {
        UP | UV | if self.backup_eligible { BE } else { 0 } | if self.backed_up { BS } else { 0 }
    }

    fn sign(key: &EcdsaP256SigningKey, auth_data: &[u8], client_data_hash: &[u8]) -> Vec<u8> {
        let message: Vec<u8> = auth_data.iter().chain(client_data_hash).copied().collect();
        let signature: EcdsaP256Signature = key.try_sign(&message).expect("P-256 signs");
        signature.to_der().to_bytes().to_vec()
    }
}

impl AuthenticatorBackendHashedClientData for FlagKey {
    fn perform_register(
        &mut self,
        client_data_hash: Vec<u8>,
        options: PublicKeyCredentialCreationOptions,
        _timeout_ms: u32,
    ) -> Result<RegisterPublicKeyCredential, WebauthnCError> {
        let credential_id = uuid::Uuid::new_v4().as_bytes().to_vec();
        let private = ecdsa_p256::new_key();
        let point = EcdsaP256PublicSec1Point::from(private.public_key());
        let cose = Cbor::Map(BTreeMap::from([
            (Cbor::Integer(1), Cbor::Integer(2)),
            (Cbor::Integer(3), Cbor::Integer(-7)),
            (Cbor::Integer(-1), Cbor::Integer(1)),
            (Cbor::Integer(-2), Cbor::Bytes(point.x().map(|x| x.to_vec()).unwrap_or_default())),
            (Cbor::Integer(-3), Cbor::Bytes(point.y().map(|y| y.to_vec()).unwrap_or_default())),
        ]));
        let mut auth_data = Sha256::digest(options.rp.id.as_bytes()).to_vec();
        auth_data.push(self.flags() | AT);
        auth_data.extend(0u32.to_be_bytes());
        auth_data.extend(self.aaguid.as_bytes());
        auth_data.extend(u16::try_from(credential_id.len()).expect("short ID").to_be_bytes());
        auth_data.extend(&credential_id);
        auth_data.extend(serde_cbor_2::to_vec(&cose).map_err(|_| WebauthnCError::Cbor)?);
        let attestation = Cbor::Map(BTreeMap::from([
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(BTreeMap::new())),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
        ]));
        let _ = client_data_hash; // `none` attestation signs nothing.
        self.keys.insert(credential_id.clone(), EcdsaP256SigningKey::from(&private));
        Ok(RegisterPublicKeyCredential {
            id: URL_SAFE_NO_PAD.encode(&credential_id),
            raw_id: credential_id,
            response: AuthenticatorAttestationResponseRaw {
                attestation_object: serde_cbor_2::to_vec(&attestation).map_err(|_| WebauthnCError::Cbor)?,
                client_data_json: Vec::new(),
                transports: None,
            },
            type_: "public-key".into(),
            extensions: Default::default(),
        })
    }

    fn perform_auth(
        &mut self,
        client_data_hash: Vec<u8>,
        options: PublicKeyCredentialRequestOptions,
        _timeout_ms: u32,
    ) -> Result<PublicKeyCredential, WebauthnCError> {
        let (credential_id, key) = options
            .allow_credentials
            .iter()
            .find_map(|allowed| self.keys.get(allowed.id.as_slice()).map(|key| (allowed.id.to_vec(), key)))
            .ok_or(WebauthnCError::Internal)?;
        let mut auth_data = Sha256::digest(options.rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags());
        auth_data.extend(self.counter.to_be_bytes());
        let signature = Self::sign(key, &auth_data, &client_data_hash);
        self.counter = self.counter.wrapping_add(1);
        Ok(PublicKeyCredential {
            id: URL_SAFE_NO_PAD.encode(&credential_id),
            raw_id: credential_id,
            response: AuthenticatorAssertionResponseRaw {
                authenticator_data: auth_data,
                client_data_json: Vec::new(),
                signature,
                user_handle: None,
            },
            type_: "public-key".into(),
            extensions: Default::default(),
        })
    }
}
