//! The checks a loaded configuration must pass, each naming its key and where the value came from.

use std::time::Duration;

use figment::Figment;

use super::sources::source_of;
use super::{Config, ConfigError};

impl Config {
    pub(super) fn validate(&self, figment: &Figment) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut problem = |key: &str, message: String| {
            problems.push(format!("{key} (from {}): {message}", source_of(figment, key)));
        };
        if !matches!(self.public_url.scheme(), "http" | "https") || self.public_url.host_str().is_none() {
            problem("public_url", "expected an http(s) URL with a host".into());
        }
        if keyward_storage::db::engine_of(&self.database_url).is_none() {
            problem("database_url", "expected a sqlite://… or postgres://… URL".into());
        }
        if let Some(redis) = &self.redis_url {
            if !["redis://", "rediss://", "redis+cluster://", "rediss+cluster://"].iter().any(|s| redis.starts_with(s))
            {
                problem(
                    "redis_url",
                    "expected a redis://… or rediss://… URL, or redis+cluster://host1:port,host2:port,… for a cluster"
                        .into(),
                );
            } else if let Err(why) = keyward_storage::RedisStore::cluster_nodes(redis) {
                problem("redis_url", why);
            }
        }
        let host = self.public_url.host_str().unwrap_or_default().to_owned();
        let rp_id = self.rp_id();
        if !(host == rp_id || host.ends_with(&format!(".{rp_id}"))) {
            problem(
                "webauthn.rp_id",
                format!("{rp_id:?} must be public_url's host ({host:?}) or a parent domain of it"),
            );
        }
        for origin in &self.webauthn.origins {
            if !matches!(origin.scheme(), "http" | "https") || origin.host_str().is_none() {
                problem("webauthn.origins", format!("{origin} is not an http(s) origin"));
            }
        }
        if let Some(dir) = &self.static_dir
            && !dir.join("index.html").is_file()
        {
            problem(
                "static_dir",
                format!(
                    "{} has no index.html: build the SPA there (cd frontend && npm run build), or unset \
                     static_dir to serve the one embedded in the binary",
                    dir.display()
                ),
            );
        }
        if let Some(path) = &self.webauthn.attestation_roots
            && let Err(why) = crate::webauthn::attestation::load_roots(path)
        {
            problem("webauthn.attestation_roots", why);
        }
        if self.management_listen == self.listen && self.listen.port() != 0 {
            problem("management_listen", format!("{} is also listen: use another port", self.listen));
        }
        if self.graphiql == Some(true) && !self.introspection_enabled() {
            problem("graphiql", "GraphiQL needs introspection: set introspection = true as well".into());
        }
        if self.webauthn.rp_name.trim().is_empty() {
            problem("webauthn.rp_name", "must not be empty".into());
        }
        if self.session.idle_ttl.is_zero() || self.session.idle_ttl > self.session.absolute_ttl {
            problem("session.idle_ttl", "expected a duration above zero and at most session.absolute_ttl".into());
        }
        if self.session.absolute_ttl < Duration::from_secs(60)
            || self.session.absolute_ttl > Duration::from_secs(30 * 86400)
        {
            problem("session.absolute_ttl", "expected a duration between 1m and 30d".into());
        }
        if self.session.pending_ttl < Duration::from_secs(30) || self.session.pending_ttl > self.session.absolute_ttl {
            problem(
                "session.pending_ttl",
                "expected a duration of at least 30s and at most session.absolute_ttl".into(),
            );
        }
        if self.ceremony.ttl < Duration::from_secs(10) || self.ceremony.ttl > Duration::from_secs(3600) {
            problem("ceremony.ttl", "expected a duration between 10s and 1h".into());
        }
        if self.step_up.token_ttl < Duration::from_secs(10) || self.step_up.token_ttl > Duration::from_secs(3600) {
            problem("step_up.token_ttl", "expected a duration between 10s and 1h".into());
        }
        // A key must sign for a while after its publication lead (the JWKS cache lifetime).
        if self.step_up.signing_key_rotation < Duration::from_secs(3600)
            || self.step_up.signing_key_rotation > Duration::from_secs(365 * 86400)
        {
            problem("step_up.signing_key_rotation", "expected a duration between 1h and 365d".into());
        }
        if self.approvals.token_ttl < Duration::from_secs(10) || self.approvals.token_ttl > Duration::from_secs(86400) {
            problem("approvals.token_ttl", "expected a duration between 10s and 24h".into());
        }
        if !(1..=10_000).contains(&self.approvals.requests_per_pipeline_per_minute) {
            problem("approvals.requests_per_pipeline_per_minute", "expected a number from 1 to 10000".into());
        }
        if let Err(why) = crate::secrets::Sealer::new(self.secrets_key.as_deref()) {
            problem("secrets_key", format!("{why} (generate one with: openssl rand -base64 32)"));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            problem("log.level", format!("{:?} is not a valid log filter (try info or debug)", self.log.level));
        }
        if keyward_domain::org::validate_slug(&self.bootstrap.organization_slug).is_err() {
            problem(
                "bootstrap.organization_slug",
                "expected 2 to 63 lowercase letters, digits and inner hyphens".into(),
            );
        }
        if self.bootstrap.admin_username.trim().is_empty() {
            problem("bootstrap.admin_username", "must not be empty".into());
        }
        if self.limits.body_bytes < 1024 {
            problem("limits.body_bytes", "expected at least 1024".into());
        }
        if !(1..=100_000).contains(&self.limits.ceremonies_per_member)
            || !(1..=100_000).contains(&self.limits.ceremonies_per_ip)
        {
            problem(
                "limits.ceremonies_per_member",
                "expected numbers from 1 to 100000 (also limits.ceremonies_per_ip)".into(),
            );
        }
        if self.limits.query_depth == 0 || self.limits.query_complexity == 0 {
            problem("limits", "query_depth and query_complexity must be above zero".into());
        }
        if !(1..=20).contains(&self.webhooks.max_attempts) {
            problem("webhooks.max_attempts", "expected 1 to 20".into());
        }
        if self.webhooks.timeout < Duration::from_secs(1) || self.webhooks.timeout > Duration::from_secs(60) {
            problem("webhooks.timeout", "expected a duration between 1s and 1m".into());
        }
        if self.webhooks.poll_interval < Duration::from_millis(50)
            || self.webhooks.poll_interval > Duration::from_secs(3600)
        {
            problem("webhooks.poll_interval", "expected a duration between 50ms and 1h".into());
        }
        if let Some(endpoint) = &self.otel.endpoint
            && (!matches!(endpoint.scheme(), "http" | "https")
                || endpoint.host_str().is_none()
                || endpoint.query().is_some()
                || endpoint.fragment().is_some())
        {
            problem(
                "otel.endpoint",
                format!("{endpoint} is not the base URL of an OTLP/HTTP collector (http(s), a host, no query)"),
            );
        }
        if self.otel.service_name.trim().is_empty() {
            problem("otel.service_name", "must not be empty".into());
        }
        if !(0.0..=1.0).contains(&self.otel.sample_ratio) {
            problem("otel.sample_ratio", "expected a number from 0 to 1".into());
        }
        if problems.is_empty() { Ok(()) } else { Err(ConfigError(problems)) }
    }
}

#[cfg(test)]
mod redis_url_tests {
    use super::super::Config;

    fn load(url: &str) -> Result<Config, String> {
        Config::from_sources(None, &[("KEYWARD_REDIS_URL".to_owned(), url.to_owned())]).map_err(|e| e.to_string())
    }

    #[test]
    fn a_node_or_a_cluster_url_is_accepted() {
        assert!(load("redis://127.0.0.1:6379").is_ok());
        assert!(load("redis+cluster://10.0.0.1:7000,10.0.0.2:7000").is_ok());
    }

    #[test]
    fn a_bad_cluster_url_says_what_to_fix() {
        let err = load("redis+cluster://u:p@10.0.0.1:7000/3").unwrap_err();
        assert!(err.contains("redis_url") && err.contains("remove the path"), "{err}");
        assert!(load("memcached://10.0.0.1").unwrap_err().contains("redis+cluster://"));
    }
}
