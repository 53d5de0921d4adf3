//! Redis Cluster for tests: the shared one `scripts/with-services.sh` starts, and private ones a
//! test may break (kill a master) without disturbing any other test.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use keyward_storage::RedisStore;

use crate::unique;

/// The shared test cluster (`KEYWARD_TEST_REDIS_CLUSTER_URL`, which `make test` sets).
pub fn redis_cluster_url() -> String {
    std::env::var("KEYWARD_TEST_REDIS_CLUSTER_URL").unwrap_or_else(|_| {
        panic!(
            "KEYWARD_TEST_REDIS_CLUSTER_URL is not set: run the tests through scripts/with-services.sh (make test \
             does), or start a cluster with scripts/redis-cluster.sh and export the URL it prints"
        )
    })
}

/// A store on the shared test cluster, in a namespace of its own.
pub async fn redis_cluster_store() -> RedisStore {
    let url = redis_cluster_url();
    RedisStore::connect(&url, &unique("kwt"))
        .await
        .unwrap_or_else(|e| panic!("the Redis Cluster at {url} is not reachable: {e}"))
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/redis-cluster.sh")
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli").arg("-p").arg(port.to_string()).args(args).output().expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether a master's `INFO replication` shows a replica, and every replica at (or past) the
/// master's own offset.
fn replicas_caught_up(info: &str) -> bool {
    let lines = || info.lines().map(str::trim);
    let Some(master) = lines().find_map(|line| line.strip_prefix("master_repl_offset:")?.parse::<u64>().ok()) else {
        return false;
    };
    let replicas: Vec<u64> = lines()
        .filter(|line| line.starts_with("slave"))
        .filter_map(|line| line.split([',', ':']).find_map(|part| part.strip_prefix("offset=")?.parse().ok()))
        .collect();
    !replicas.is_empty() && replicas.iter().all(|&offset| offset >= master)
}

/// A private cluster of three masters with a replica each, on free loopback ports, stopped and
/// removed when dropped.
pub struct RedisCluster {
    dir: tempfile::TempDir,
    ports: Vec<u16>,
    killed: Vec<u16>,
    /// `redis+cluster://127.0.0.1:P1,...`
    pub url: String,
}

impl RedisCluster {
    /// Starts the cluster and waits until every node reports `cluster_state:ok`.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new().prefix("keyward-cluster").tempdir().unwrap();
        let ports = Command::new(script()).args(["ports", "6"]).output().expect("redis-cluster.sh runs");
        let ports: Vec<u16> =
            String::from_utf8_lossy(&ports.stdout).split_whitespace().map(|p| p.parse().unwrap()).collect();
        let out = Command::new(script())
            .arg("start")
            .arg(dir.path())
            .args(ports.iter().map(u16::to_string))
            .output()
            .expect("redis-cluster.sh runs");
        assert!(out.status.success(), "the cluster did not start: {}", String::from_utf8_lossy(&out.stderr));
        let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        Self { dir, ports, killed: Vec::new(), url }
    }

    /// The port of the master that serves `key`'s slot now.
    pub fn master_of(&self, key: &str) -> u16 {
        let port = self.live_port();
        let slot: u16 = cli(port, &["cluster", "keyslot", key]).trim().parse().expect("a slot number");
        cli(port, &["cluster", "nodes"])
            .lines()
            .filter(|line| line.contains("master") && !line.contains("fail"))
            .find_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let owns = fields.iter().skip(8).any(|range| match range.split_once('-') {
                    Some((from, to)) => {
                        (from.parse::<u16>().unwrap_or(u16::MAX)..=to.parse().unwrap_or(0)).contains(&slot)
                    }
                    None => range.parse::<u16>().ok() == Some(slot),
                });
                let address = fields.get(1)?;
                owns.then(|| address.split(['@', ':']).nth(1)?.parse().ok()).flatten()
            })
            .unwrap_or_else(|| panic!("no master serves slot {slot}"))
    }

    /// Kills the node on `port` at once (SIGKILL: no goodbye to the cluster).
    pub fn kill(&mut self, port: u16) {
        let pid = std::fs::read_to_string(self.dir.path().join(format!("redis-{port}.pid"))).expect("a pid file");
        let status = Command::new("kill").args(["-KILL", pid.trim()]).status().unwrap();
        assert!(status.success(), "could not kill node {port}");
        self.killed.push(port);
    }

    /// Waits (at most 10 s) until every master's writes so far, from any client, reached its
    /// replica, so a failover keeps them. (`WAIT` would not do: it waits only for the writes of
    /// the connection that sends it, and redis-cli's own connection has written nothing.)
    pub fn sync_replicas(&self) {
        for &port in self.ports.iter().filter(|p| !self.killed.contains(p)) {
            if !cli(port, &["role"]).starts_with("master") {
                continue;
            }
            let started = Instant::now();
            while !replicas_caught_up(&cli(port, &["info", "replication"])) {
                assert!(started.elapsed() < Duration::from_secs(10), "the replica of :{port} did not catch up");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// Waits (at most 30 s) until the surviving nodes all report `cluster_state:ok` again.
    pub fn wait_until_healthy(&self) -> Duration {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            let healthy = self
                .ports
                .iter()
                .filter(|p| !self.killed.contains(p))
                .all(|&p| cli(p, &["cluster", "info"]).contains("cluster_state:ok"));
            if healthy {
                return started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the cluster did not recover within 30 s");
    }

    fn live_port(&self) -> u16 {
        *self.ports.iter().find(|p| !self.killed.contains(p)).expect("a live node")
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").arg(self.dir.path()).status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_has_caught_up_only_at_the_masters_offset() {
        let info = |replica: &str| {
            format!("# Replication\r\nrole:master\r\nconnected_slaves:1\r\n{replica}master_repl_offset:1500\r\n")
        };
        let at = |offset: u64| info(&format!("slave0:ip=127.0.0.1,port=7001,state=online,offset={offset},lag=0\r\n"));
        assert!(replicas_caught_up(&at(1500)));
        assert!(replicas_caught_up(&at(1514)));
        assert!(!replicas_caught_up(&at(1499)));
        assert!(!replicas_caught_up(&info("")), "no replica has caught up with nothing");
        assert!(!replicas_caught_up(""));
    }
}
