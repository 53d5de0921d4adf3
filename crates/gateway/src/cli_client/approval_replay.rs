//! `--replay-cache FILE`: the `jti`s of approval tokens already accepted, as JSON lines
//! `{"jti": …, "until": <unix seconds>}`, shared by every `verify` on the machine.
//!
//! The file is held under an exclusive `flock` from before it is read until after it is written,
//! so of several verifiers presenting the same token at once exactly one accepts it. It is
//! rewritten in place (never replaced by a rename: a verifier waiting on the lock of a replaced
//! file would read the stale one). Entries whose token has expired are dropped on each write.
//! Anything unreadable in it fails closed: the token is refused until the file is fixed.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::CliError;
use crate::tokens::ReplayCache;

/// One remembered token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The token's `jti`.
    pub jti: String,
    /// Until when it is remembered (its `exp` plus the leeway).
    pub until: i64,
}

/// The replay cache file, locked for as long as this value lives.
pub struct FileReplayCache {
    path: PathBuf,
    file: File,
    entries: Vec<Entry>,
    failure: Option<String>,
}

impl FileReplayCache {
    /// Opens (creating, mode 0600) and locks `path`, waiting for other verifiers, and reads it.
    pub fn open(path: &Path) -> Result<Self, CliError> {
        let io = |what: &str, e: std::io::Error| CliError::Io(format!("replay cache {}: {what}: {e}", path.display()));
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|e| io("cannot open", e))?;
        file.lock().map_err(|e| io("cannot lock", e))?;
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(|e| io("cannot read", e))?;
        let entries = parse(&text).map_err(|line| {
            CliError::Io(format!(
                "replay cache {}: line {line} is not {{\"jti\", \"until\"}}; fix or delete the file",
                path.display()
            ))
        })?;
        Ok(Self { path: path.to_owned(), file, entries, failure: None })
    }

    /// Why recording failed, if it did (the token was then refused).
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// The entries remembered now.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    fn write(&mut self) -> std::io::Result<()> {
        let mut text = String::new();
        for entry in &self.entries {
            text.push_str(&serde_json::to_string(entry).expect("entries serialize"));
            text.push('\n');
        }
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(text.as_bytes())?;
        self.file.sync_data()
    }
}

/// The entries of a cache file; `Err(line number)` at the first line that is not one.
pub fn parse(text: &str) -> Result<Vec<Entry>, usize> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| serde_json::from_str(line).map_err(|_| n + 1))
        .collect()
}

impl ReplayCache for FileReplayCache {
    fn check_and_record(&mut self, jti: &str, until: i64, now: i64) -> bool {
        self.entries.retain(|e| e.until >= now);
        if self.entries.iter().any(|e| e.jti == jti) {
            return false;
        }
        self.entries.push(Entry { jti: jti.to_owned(), until });
        match self.write() {
            Ok(()) => true,
            Err(err) => {
                // Not recorded, so not accepted: a token that cannot be remembered could be replayed.
                self.failure = Some(format!("replay cache {}: cannot write: {err}", self.path.display()));
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jti_is_accepted_once_and_forgotten_after_its_token_expired() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replay.jsonl");
        {
            let mut cache = FileReplayCache::open(&path).unwrap();
            assert!(cache.check_and_record("a", 100, 0));
            assert!(cache.check_and_record("b", 200, 0));
            assert!(!cache.check_and_record("a", 100, 50));
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"jti\":\"a\",\"until\":100}\n{\"jti\":\"b\",\"until\":200}\n");
        let mut cache = FileReplayCache::open(&path).unwrap();
        assert!(!cache.check_and_record("b", 200, 150), "remembered across runs");
        assert!(cache.check_and_record("c", 300, 150));
        assert_eq!(cache.entries().iter().map(|e| e.jti.as_str()).collect::<Vec<_>>(), ["b", "c"], "a was pruned");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn a_damaged_file_fails_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replay.jsonl");
        std::fs::write(&path, "{\"jti\":\"a\",\"until\":1}\n{\"jti\":\"b\"\n").unwrap();
        let err = FileReplayCache::open(&path).err().unwrap().to_string();
        assert!(err.contains("line 2"), "{err}");
        assert_eq!(parse("\n{\"jti\":\"a\",\"until\":1}\n\n"), Ok(vec![Entry { jti: "a".into(), until: 1 }]));
    }

    #[test]
    fn the_lock_makes_concurrent_verifiers_take_turns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replay.jsonl");
        let accepted: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| FileReplayCache::open(&path).unwrap().check_and_record("same", 100, 0)))
                .collect();
            handles.into_iter().map(|h| usize::from(h.join().unwrap())).sum()
        });
        assert_eq!(accepted, 1);
    }
}
