//! The step-up signing-key table on SQLite and PostgreSQL: round trip, the rotation race guard,
//! retirement and pruning.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use keyward_domain::repo::SigningKeyRepo;
use keyward_domain::step_up_token::{SigningKey, next_generation, retire_predecessors_at};
use keyward_storage::Database;
use keyward_testkit::{TestDb, on_both_databases};

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
}

fn key(kid: &str, generation: i64, created: DateTime<Utc>) -> SigningKey {
    SigningKey {
        kid: kid.into(),
        generation,
        algorithm: "ES256".into(),
        public_jwk: format!("{{\"kid\":\"{kid}\"}}"),
        private_key: format!("v1:sealed-{kid}"),
        created_at: created,
        retired_at: None,
    }
}

async fn keys_round_trip_and_retire_their_predecessors(t_db: TestDb) {
    let db = &t_db.db;
    assert!(db.signing_keys().await.unwrap().is_empty());
    assert!(db.add_signing_key(key("k1", 1, t(0)), retire_predecessors_at(t(0))).await.unwrap());
    let stored = db.signing_keys().await.unwrap();
    assert_eq!(stored, vec![key("k1", 1, t(0))], "every column round-trips");

    let day = 86_400;
    assert!(db.add_signing_key(key("k2", 2, t(day)), retire_predecessors_at(t(day))).await.unwrap());
    let stored = db.signing_keys().await.unwrap();
    assert_eq!(stored.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(), ["k1", "k2"], "oldest first");
    assert_eq!(stored[0].retired_at, Some(t(day + 300)), "the predecessor signs for the publication lead");
    assert_eq!(stored[1].retired_at, None);
    assert_eq!(next_generation(&stored), 3);

    assert!(db.add_signing_key(key("k3", 3, t(2 * day)), retire_predecessors_at(t(2 * day))).await.unwrap());
    let stored = db.signing_keys().await.unwrap();
    assert_eq!(stored[0].retired_at, Some(t(day + 300)), "an earlier retirement is kept");
    assert_eq!(stored[1].retired_at, Some(t(2 * day + 300)));

    assert_eq!(db.delete_signing_keys_retired_by(t(day + 299)).await.unwrap(), 0);
    assert_eq!(db.delete_signing_keys_retired_by(t(day + 300)).await.unwrap(), 1);
    let kids: Vec<_> = db.signing_keys().await.unwrap().into_iter().map(|k| k.kid).collect();
    assert_eq!(kids, ["k2", "k3"], "a key without successor is never deleted");
}

async fn two_instances_rotating_at_once_add_one_key(t_db: TestDb) {
    let db: Arc<Database> = Arc::clone(&t_db.db);
    assert!(db.add_signing_key(key("k1", 1, t(0)), retire_predecessors_at(t(0))).await.unwrap());
    // Eight "instances" saw generation 1 as the newest and race to add generation 2.
    let racers = (0..8).map(|i| {
        let db = Arc::clone(&db);
        tokio::spawn(async move {
            db.add_signing_key(key(&format!("racer{i}"), 2, t(86_400)), retire_predecessors_at(t(86_400))).await
        })
    });
    let won: Vec<bool> = futures::future::join_all(racers).await.into_iter().map(|r| r.unwrap().unwrap()).collect();
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "exactly one successor: {won:?}");
    let stored = db.signing_keys().await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored.iter().filter(|k| k.retired_at.is_none()).count(), 1, "one signer in the end");
    let winner = won.iter().position(|w| *w).unwrap();
    assert_eq!(stored[1].kid, format!("racer{winner}"));
    assert_eq!(stored[0].retired_at, Some(t(86_400) + Duration::seconds(300)));
}

on_both_databases! {
    keys_round_trip_and_retire_their_predecessors,
    two_instances_rotating_at_once_add_one_key,
}
