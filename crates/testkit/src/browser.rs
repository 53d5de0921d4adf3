//! The browser's half of a WebAuthn ceremony, for the gateway tests and the bench: client data
//! JSON as browsers write it, hashed and signed by a software authenticator.
//!
//! Browsers put the *serialized* origin in `clientDataJSON.origin` (`http://localhost:8080`, no
//! trailing slash), and the gateway compares that string exactly. webauthn-authenticator-rs's own
//! `do_registration` / `do_authentication` write a URL instead (`http://localhost:8080/`), so the
//! tests build the client data here and hand only its hash to the authenticator, as a browser does.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use webauthn_authenticator_rs::AuthenticatorBackendHashedClientData;
use webauthn_rs_core::proto::{PublicKeyCredentialCreationOptions, PublicKeyCredentialRequestOptions};

/// How long the authenticator may take, in milliseconds (software keys answer at once).
const TIMEOUT_MS: u32 = 60_000;

/// The client data a browser at `origin` collects for `options` (`kind` is `webauthn.create` or
/// `webauthn.get`). Edit the object to play a misbehaving client.
pub fn client_data(kind: &str, options: &Value, origin: &str) -> Value {
    json!({ "type": kind, "challenge": options["challenge"], "origin": origin, "crossOrigin": false })
}

fn hashed(client_data: &Value) -> (Vec<u8>, Vec<u8>) {
    let bytes = serde_json::to_vec(client_data).expect("client data is JSON");
    let hash = Sha256::digest(&bytes).to_vec();
    (bytes, hash)
}

/// Has `key` answer creation options (the `publicKey` member, W3C JSON) over `client_data`;
/// returns the `RegistrationResponseJSON`.
pub fn create_with(key: &mut impl AuthenticatorBackendHashedClientData, options: &Value, client_data: &Value) -> Value {
    let options: PublicKeyCredentialCreationOptions =
        serde_json::from_value(options.clone()).expect("creation options the authenticator understands");
    let (bytes, hash) = hashed(client_data);
    let mut response = key.perform_register(hash, options, TIMEOUT_MS).expect("the software key registers");
    response.response.client_data_json = bytes;
    serde_json::to_value(response).expect("the response is JSON")
}

/// Has `key` answer request options over `client_data`; returns the `AuthenticationResponseJSON`.
pub fn get_with(key: &mut impl AuthenticatorBackendHashedClientData, options: &Value, client_data: &Value) -> Value {
    let options: PublicKeyCredentialRequestOptions =
        serde_json::from_value(options.clone()).expect("request options the authenticator understands");
    let (bytes, hash) = hashed(client_data);
    let mut response = key.perform_auth(hash, options, TIMEOUT_MS).expect("the software key signs");
    response.response.client_data_json = bytes;
    serde_json::to_value(response).expect("the response is JSON")
}

/// A well-behaved browser at `origin` registering `key`.
pub fn create(key: &mut impl AuthenticatorBackendHashedClientData, options: &Value, origin: &str) -> Value {
    create_with(key, options, &client_data("webauthn.create", options, origin))
}

/// A well-behaved browser at `origin` signing in with `key`.
pub fn get(key: &mut impl AuthenticatorBackendHashedClientData, options: &Value, origin: &str) -> Value {
    get_with(key, options, &client_data("webauthn.get", options, origin))
}
