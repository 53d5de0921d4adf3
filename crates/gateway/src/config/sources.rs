//! Where settings come from: one figment provider per environment variable (so an error names the
//! exact variable), and how a figment error or a key's origin is said.

use figment::providers::Serialized;
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

/// An environment variable's value as figment would read it (numbers, booleans, arrays, quoted
/// strings), or the text itself. figment 0.10's unescaping indexes bytes by character count and
/// panics on a backslash after a non-ASCII character, so such values are taken as plain text.
pub(super) fn env_value(raw: &str) -> Value {
    if !raw.is_ascii() && raw.contains('\\') {
        return Value::from(raw.to_owned());
    }
    raw.parse::<Value>().unwrap_or_else(|_| Value::from(raw.to_owned()))
}

/// Variables of Keyward's clients, not of the server: the CLI's `approval request` and `wait` read
/// the first two, and the README's examples keep a session token in the third. A pipeline or a
/// shell that sets them for the client must still be able to run `keyward audit verify` or `serve`.
pub const CLIENT_VARIABLES: [&str; 3] = ["KEYWARD_URL", "KEYWARD_API_KEY", "KEYWARD_TOKEN"];

/// Environment variables that are settings: `KEYWARD_CONFIG` names the file, `KEYWARD_TEST_*`
/// belongs to the test suite, and [`CLIENT_VARIABLES`] to the clients.
pub(super) fn is_setting(var: &str) -> bool {
    var.starts_with("KEYWARD_")
        && var != "KEYWARD_CONFIG"
        && !var.starts_with("KEYWARD_TEST_")
        && !CLIENT_VARIABLES.contains(&var)
}

pub(super) fn source_of(figment: &Figment, key: &str) -> String {
    figment
        .find_metadata(key)
        .map(|meta| match &meta.source {
            Some(source) => format!("{} {source}", meta.name),
            None => meta.name.to_string(),
        })
        .unwrap_or_else(|| "defaults".into())
}

pub(super) fn describe_figment_error(err: &figment::Error) -> String {
    let key = if err.path.is_empty() { "(top level)".to_owned() } else { err.path.join(".") };
    let source = match (&err.metadata, err.path.is_empty()) {
        (Some(meta), _) => match &meta.source {
            Some(source) => format!("{} {source}", meta.name),
            None => meta.name.to_string(),
        },
        (None, _) => "unknown source".into(),
    };
    format!("{key} (from {source}): {}", err.kind)
}

/// `KEYWARD_SESSION__IDLE_TTL` -> `session.idle_ttl`.
pub(super) fn setting_key(var_stem: &str) -> String {
    var_stem["KEYWARD_".len()..].to_lowercase().replace("__", ".")
}

/// One setting from one named origin.
pub(super) struct Setting {
    pub(super) origin: String,
    pub(super) key: String,
    pub(super) value: Value,
}

impl Provider for Setting {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.origin.clone())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Serialized::default(&self.key, &self.value).data()
    }
}
