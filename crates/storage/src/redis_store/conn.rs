//! The connection the store talks through: one Redis node or a Redis Cluster, chosen by the URL,
//! behind one [`ConnectionLike`] so every operation is written once.
//!
//! Each command made on behalf of a traced operation runs in a `redis` span that names the command
//! (and the script, for `EVALSHA`) but never its arguments: they carry token hashes and session
//! fields.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use keyward_domain::StoreError;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, Slot, SlotAddr};
use redis::{Arg, Cmd, Pipeline, RedisFuture, Value};
use tracing::Instrument;

/// How long connecting to a node and each answer may take before the call fails (closed).
const TIMEOUT: Duration = Duration::from_secs(2);

/// The URL schemes that name a cluster: `redis+cluster://host1:port1,host2:port2,...`.
const CLUSTER_SCHEMES: [(&str, &str); 2] = [("redis+cluster://", "redis://"), ("rediss+cluster://", "rediss://")];

#[derive(Clone)]
enum Link {
    Node(ConnectionManager),
    Cluster(ClusterConnection),
}

/// A cheap-to-clone connection to a node or a cluster.
#[derive(Clone)]
pub(super) struct Conn {
    link: Link,
    /// Script names by SHA-1, so a span says which script an `EVALSHA` ran.
    script_names: Arc<HashMap<String, &'static str>>,
}

impl Conn {
    /// Connects to the node or cluster `url` names. A cluster is reached through any of the
    /// nodes listed; the client learns the rest, and follows failovers, from the cluster itself.
    pub(super) async fn open(url: &str, script_names: HashMap<String, &'static str>) -> Result<Self, StoreError> {
        let nodes = cluster_nodes(url).map_err(|why| StoreError::Unexpected(format!("redis cluster url: {why}")))?;
        let link = match nodes {
            Some(nodes) => {
                let client = ClusterClientBuilder::new(nodes)
                    .connection_timeout(TIMEOUT)
                    .response_timeout(TIMEOUT)
                    .retries(3)
                    .min_retry_wait(50)
                    .max_retry_wait(500)
                    .build()
                    .map_err(|e| StoreError::Unexpected(format!("redis cluster url: {e}")))?;
                Link::Cluster(client.get_async_connection().await.map_err(super::map_err)?)
            }
            None => {
                let client = redis::Client::open(url).map_err(|e| StoreError::Unexpected(format!("redis url: {e}")))?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(TIMEOUT))
                    .set_response_timeout(Some(TIMEOUT))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_secs(1));
                Link::Node(ConnectionManager::new_with_config(client, config).await.map_err(super::map_err)?)
            }
        };
        Ok(Self { link, script_names: Arc::new(script_names) })
    }

    /// Whether this connection speaks to a cluster.
    pub(super) fn is_cluster(&self) -> bool {
        matches!(self.link, Link::Cluster(_))
    }

    /// The cluster connection, for commands that must reach every master.
    pub(super) fn cluster(&mut self) -> Option<&mut ClusterConnection> {
        match &mut self.link {
            Link::Cluster(conn) => Some(conn),
            Link::Node(_) => None,
        }
    }

    /// On a cluster, waits at most `timeout` until the replica of the master that owns `key`'s slot
    /// has this connection's writes so far (`WAIT`), so a failover cannot undo them. Returns how
    /// many replicas acknowledged, or `None` on a single node (nothing to wait for).
    pub(super) async fn replicate(&mut self, key: &str, timeout: Duration) -> Result<Option<u64>, StoreError> {
        let Link::Cluster(conn) = &mut self.link else { return Ok(None) };
        let route = Route::with_slot(Slot::for_key(key), SlotAddr::Master);
        let mut wait = redis::cmd("WAIT");
        wait.arg(1).arg(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        let acknowledged = conn
            .route_command(wait, RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)))
            .instrument(tracing::info_span!(
                "redis",
                otel.name = "redis WAIT",
                db.system = "redis",
                db.operation = "WAIT"
            ))
            .await
            .map_err(super::map_err)?;
        let acknowledged: u64 = redis::from_redis_value(acknowledged).map_err(|e| super::map_err(e.into()))?;
        Ok(Some(acknowledged))
    }

    fn span_for(&self, cmd: &Cmd) -> tracing::Span {
        // Background work (purges, pollers) would otherwise start a trace of its own per command.
        if tracing::Span::current().is_none() {
            return tracing::Span::none();
        }
        let mut args = cmd.args_iter();
        let name = match args.next() {
            Some(Arg::Simple(name)) => std::str::from_utf8(name).unwrap_or("?").to_ascii_uppercase(),
            _ => "?".to_owned(),
        };
        let script = match (name.as_str(), args.next()) {
            ("EVALSHA", Some(Arg::Simple(sha))) => {
                std::str::from_utf8(sha).ok().and_then(|sha| self.script_names.get(sha)).copied().unwrap_or("?")
            }
            _ => "",
        };
        tracing::info_span!(
            "redis",
            otel.name = %format_args!("redis {name}"),
            db.system = "redis",
            db.operation = %name,
            db.redis.script = script,
        )
    }
}

/// The node URLs of a `redis+cluster://` URL, or `None` for a single node's URL; the error says
/// what is wrong with the URL.
pub(super) fn cluster_nodes(url: &str) -> Result<Option<Vec<String>>, String> {
    let Some((rest, node_scheme)) =
        CLUSTER_SCHEMES.iter().find_map(|(scheme, node)| url.strip_prefix(scheme).map(|rest| (rest, *node)))
    else {
        return Ok(None);
    };
    let invalid = |why: &str| why.to_owned();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if !path.is_empty() {
        return Err(invalid("a cluster has only database 0; remove the path after the hosts"));
    }
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => (format!("{userinfo}@"), hosts),
        None => (String::new(), authority),
    };
    let nodes: Vec<String> = hosts
        .split(',')
        .map(str::trim)
        .filter(|host| !host.is_empty())
        .map(|host| format!("{node_scheme}{userinfo}{host}"))
        .collect();
    if nodes.is_empty() {
        return Err(invalid("name at least one node, as redis+cluster://host1:7000,host2:7001"));
    }
    Ok(Some(nodes))
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let span = self.span_for(cmd);
        match &mut self.link {
            Link::Node(conn) => Box::pin(conn.req_packed_command(cmd).instrument(span)),
            Link::Cluster(conn) => Box::pin(conn.req_packed_command(cmd).instrument(span)),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let span =
            tracing::info_span!("redis", otel.name = "redis pipeline", db.system = "redis", db.operation = "PIPELINE");
        match &mut self.link {
            Link::Node(conn) => Box::pin(conn.req_packed_commands(pipeline, offset, count).instrument(span)),
            Link::Cluster(conn) => Box::pin(conn.req_packed_commands(pipeline, offset, count).instrument(span)),
        }
    }

    fn get_db(&self) -> i64 {
        match &self.link {
            Link::Node(conn) => conn.get_db(),
            Link::Cluster(conn) => conn.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_url_lists_its_nodes_with_the_credentials_on_each() {
        let nodes = cluster_nodes("redis+cluster://u:p@10.0.0.1:7000,10.0.0.2:7001").unwrap().unwrap();
        assert_eq!(nodes, ["redis://u:p@10.0.0.1:7000", "redis://u:p@10.0.0.2:7001"]);
        let tls = cluster_nodes("rediss+cluster://h1:7000/").unwrap().unwrap();
        assert_eq!(tls, ["rediss://h1:7000"]);
    }

    #[test]
    fn a_single_node_url_is_not_a_cluster() {
        assert_eq!(cluster_nodes("redis://127.0.0.1:6379/2").unwrap(), None);
    }

    #[test]
    fn a_cluster_url_without_nodes_or_with_a_database_is_refused() {
        assert!(cluster_nodes("redis+cluster://").is_err());
        assert!(cluster_nodes("redis+cluster://h1:7000/3").is_err());
    }
}
