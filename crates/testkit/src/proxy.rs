//! A loopback TCP proxy for tests. It counts round trips (each time the client speaks after the
//! server has answered; pipelined commands count once), logs the Redis commands of each round
//! trip, and can play an outage: while "down" it cuts every connection and refuses new ones.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

mod pg;

/// One round trip on one connection: what the client sent before the server's next answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoundTrip {
    /// The client connection, numbered in accept order from 0.
    pub connection: u64,
    /// Names of the Redis commands sent, upper-cased (`EVALSHA`, `GETDEL`, …); empty when the
    /// client does not speak RESP (PostgreSQL).
    pub commands: Vec<String>,
    /// The server answered with a `NOSCRIPT` error: a script-cache miss.
    pub noscript: bool,
    /// PostgreSQL statements sent in the clear (see [`pg::StatementReader`]).
    pub statements: usize,
}

/// Commands a Redis client sends to set up a connection rather than to do its work.
const SETUP: &[&str] = &["HELLO", "AUTH", "SELECT", "CLIENT"];

/// A running proxy.
pub struct TcpProxy {
    addr: String,
    shared: Arc<Shared>,
    down: watch::Sender<bool>,
}

#[derive(Default)]
struct Shared {
    round_trips: AtomicU64,
    log: Mutex<Vec<(u64, RoundTrip)>>,
    next_seq: AtomicU64,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, RoundTrip)>> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `edit` to the logged round trip `seq`, unless a reset dropped it.
    fn edit(&self, seq: u64, edit: impl FnOnce(&mut RoundTrip)) {
        if let Some((_, trip)) = self.lock().iter_mut().rev().find(|(s, _)| *s == seq) {
            edit(trip);
        }
    }
}

impl TcpProxy {
    /// Starts a proxy in front of the server a URL points at (`scheme://[user@]host:port/...`).
    pub async fn start(url: &str) -> Self {
        let target = host_port(url);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let shared = Arc::new(Shared::default());
        let (down, _) = watch::channel(false);
        let counter = Arc::clone(&shared);
        let state = down.clone();
        tokio::spawn(async move {
            let mut connection = 0;
            while let Ok((client, _)) = listener.accept().await {
                if *state.borrow() {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target).await else {
                    continue;
                };
                tokio::spawn(pipe(client, server, connection, Arc::clone(&counter), state.subscribe()));
                connection += 1;
            }
        });
        Self { addr, shared, down }
    }

    /// `url` with its host and port replaced by the proxy's.
    pub fn rewrite(&self, url: &str) -> String {
        url.replacen(&host_port(url), &self.addr, 1)
    }

    /// Round trips since the last reset, of every kind.
    pub fn round_trips(&self) -> u64 {
        self.shared.round_trips.load(Ordering::SeqCst)
    }

    /// The round trips since the last reset, in order.
    pub fn log(&self) -> Vec<RoundTrip> {
        self.shared.lock().iter().map(|(_, trip)| trip.clone()).collect()
    }

    /// The commands of the round trips that did the client's own work since the last reset: a
    /// Redis script-cache miss (the call refused with `NOSCRIPT`, then `SCRIPT LOAD`) and
    /// connection setup are left out, because whether they happen depends on what the server
    /// and the connection went through before, not on the code under test.
    pub fn work(&self) -> Vec<Vec<String>> {
        self.log()
            .into_iter()
            .filter(|trip| !trip.noscript)
            .filter(|trip| !trip.commands.iter().all(|c| c == "SCRIPT" || SETUP.contains(&c.as_str())))
            .map(|trip| trip.commands)
            .collect()
    }

    /// PostgreSQL statements since the last reset, from a client talking in the clear
    /// (`sslmode=disable`): however many round trips preparing them took.
    pub fn pg_statements(&self) -> usize {
        self.log().iter().map(|trip| trip.statements).sum()
    }

    /// Starts counting from zero.
    pub fn reset(&self) {
        let mut log = self.shared.lock();
        log.clear();
        self.shared.round_trips.store(0, Ordering::SeqCst);
    }

    /// Plays an outage (`true`) or ends it (`false`).
    pub fn set_down(&self, down: bool) {
        self.down.send_replace(down);
    }
}

async fn pipe(
    client: TcpStream,
    server: TcpStream,
    connection: u64,
    shared: Arc<Shared>,
    mut down: watch::Receiver<bool>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let awaiting = Arc::new(AtomicBool::new(false));
    // The round trip under way on this connection (its sequence number in the log).
    let current = Arc::new(AtomicU64::new(u64::MAX));
    let (awaiting_up, current_up, shared_up) = (Arc::clone(&awaiting), Arc::clone(&current), Arc::clone(&shared));
    let up = async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut commands = CommandReader::default();
        let mut statements = pg::StatementReader::default();
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if !awaiting_up.swap(true, Ordering::SeqCst) {
                shared_up.round_trips.fetch_add(1, Ordering::SeqCst);
                let seq = shared_up.next_seq.fetch_add(1, Ordering::SeqCst);
                let trip = RoundTrip { connection, commands: Vec::new(), noscript: false, statements: 0 };
                shared_up.lock().push((seq, trip));
                current_up.store(seq, Ordering::SeqCst);
            }
            let executed = statements.feed(&buf[..n]);
            if executed > 0 {
                shared_up.edit(current_up.load(Ordering::SeqCst), |trip| trip.statements += executed);
            }
            let names = commands.feed(&buf[..n]);
            if !names.is_empty() {
                shared_up.edit(current_up.load(Ordering::SeqCst), |trip| trip.commands.extend(names));
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let down_stream = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            // The first bytes of an answer tell whether the server refused a script it lacks.
            if awaiting.swap(false, Ordering::SeqCst) && buf[..n].starts_with(b"-NOSCRIPT") {
                shared.edit(current.load(Ordering::SeqCst), |trip| trip.noscript = true);
            }
            if client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let outage = async move {
        let _ = down.wait_for(|is_down| *is_down).await;
    };
    tokio::select! {
        _ = async { tokio::join!(up, down_stream) } => {}
        _ = outage => {}
    }
}

/// Reads the names of RESP commands (arrays of bulk strings) out of a client's byte stream, across
/// reads. Gives up on anything else (another protocol), or on a command larger than it keeps.
#[derive(Default)]
struct CommandReader {
    pending: Vec<u8>,
    gave_up: bool,
}

impl CommandReader {
    const MAX_PENDING: usize = 16 * 1024 * 1024;

    fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        if self.gave_up {
            return Vec::new();
        }
        self.pending.extend_from_slice(bytes);
        let mut names = Vec::new();
        let mut at = 0;
        loop {
            match parse_command(&self.pending[at..]) {
                Parsed::Command { len, name } => {
                    names.push(name);
                    at += len;
                }
                Parsed::Incomplete => break,
                Parsed::NotResp => {
                    self.gave_up = true;
                    break;
                }
            }
        }
        self.pending.drain(..at);
        if self.gave_up || self.pending.len() > Self::MAX_PENDING {
            self.gave_up = true;
            self.pending = Vec::new();
        }
        names
    }
}

enum Parsed {
    Command { len: usize, name: String },
    Incomplete,
    NotResp,
}

/// One `*<n>\r\n($<len>\r\n<bytes>\r\n){n}` command at the start of `bytes`.
fn parse_command(bytes: &[u8]) -> Parsed {
    let Some((&first, _)) = bytes.split_first() else {
        return Parsed::Incomplete;
    };
    if first != b'*' {
        return Parsed::NotResp;
    }
    let line = |from: usize, marker: u8| -> Option<Result<(usize, usize), ()>> {
        let rest = bytes.get(from..)?;
        let end = rest.windows(2).position(|w| w == b"\r\n")?;
        let number = std::str::from_utf8(&rest[..end]).ok().filter(|_| rest[0] == marker);
        Some(number.and_then(|n| n[1..].parse().ok()).map(|n| (n, from + end + 2)).ok_or(()))
    };
    let (count, mut at) = match line(0, b'*') {
        None => return Parsed::Incomplete,
        Some(Err(())) => return Parsed::NotResp,
        Some(Ok(parsed)) => parsed,
    };
    let mut name = String::new();
    for i in 0..count {
        let (len, start) = match line(at, b'$') {
            None => return Parsed::Incomplete,
            Some(Err(())) => return Parsed::NotResp,
            Some(Ok(parsed)) => parsed,
        };
        let Some(arg) = bytes.get(start..start + len) else {
            return Parsed::Incomplete;
        };
        if bytes.len() < start + len + 2 {
            return Parsed::Incomplete;
        }
        if i == 0 {
            name = String::from_utf8_lossy(arg).to_uppercase();
        }
        at = start + len + 2;
    }
    Parsed::Command { len: at, name }
}

/// `host:port` of a `scheme://[user[:pass]@]host:port[/path][?query]` URL.
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, rest)| rest).unwrap_or(url);
    let rest = rest.split(['/', '?']).next().unwrap_or(rest);
    rest.rsplit('@').next().unwrap_or(rest).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_strips_everything_else() {
        assert_eq!(host_port("redis://127.0.0.1:6379"), "127.0.0.1:6379");
        assert_eq!(host_port("postgres://postgres:pw@127.0.0.1:5432/test?x=1"), "127.0.0.1:5432");
    }

    #[test]
    fn commands_are_read_across_reads_and_pipelines() {
        let mut reader = CommandReader::default();
        let get = b"*2\r\n$3\r\nget\r\n$1\r\nk\r\n";
        let evalsha = b"*3\r\n$7\r\nEVALSHA\r\n$2\r\nab\r\n$1\r\n0\r\n";
        assert_eq!(reader.feed(get), vec!["GET"]);
        let both: Vec<u8> = [&get[..], &evalsha[..]].concat();
        let (head, tail) = both.split_at(get.len() + 5);
        assert_eq!(reader.feed(head), vec!["GET"]);
        assert!(reader.feed(&tail[..3]).is_empty(), "half a command is not one");
        assert_eq!(reader.feed(&tail[3..]), vec!["EVALSHA"]);
    }

    #[test]
    fn other_protocols_are_left_alone() {
        let mut reader = CommandReader::default();
        assert!(reader.feed(&[0, 0, 0, 8, 4, 210, 22, 47]).is_empty());
        assert!(reader.feed(b"*1\r\n$4\r\nPING\r\n").is_empty(), "once given up, it stays quiet");
    }
}
