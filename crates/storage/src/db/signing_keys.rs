//! Step-up token signing keys, shared by every gateway instance through the `signing_keys` table.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keyward_domain::StoreError;
use keyward_domain::repo::SigningKeyRepo;
use keyward_domain::step_up_token::SigningKey;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait, TryInsertResult};

use super::entities::signing_key::{self, Column, Entity};
use super::{Database, map_err};

fn key_from(row: signing_key::Model) -> SigningKey {
    SigningKey {
        kid: row.kid,
        generation: row.generation,
        algorithm: row.algorithm,
        public_jwk: row.public_jwk,
        private_key: row.private_key,
        created_at: row.created_at,
        retired_at: row.retired_at,
    }
}

#[async_trait]
impl SigningKeyRepo for Database {
    async fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        let rows = Entity::find().order_by_asc(Column::Generation).all(&self.conn).await.map_err(map_err)?;
        Ok(rows.into_iter().map(key_from).collect())
    }

    async fn add_signing_key(&self, key: SigningKey, retire_older_at: DateTime<Utc>) -> Result<bool, StoreError> {
        let generation = key.generation;
        let row = signing_key::ActiveModel {
            kid: Set(key.kid),
            generation: Set(generation),
            algorithm: Set(key.algorithm),
            public_jwk: Set(key.public_jwk),
            private_key: Set(key.private_key),
            created_at: Set(key.created_at),
            retired_at: Set(key.retired_at),
        };
        let txn = self.conn.begin().await.map_err(map_err)?;
        // The unique generation is the race guard: of two instances that saw the same newest key
        // and rotate at once, one inserts and the other inserts nothing (PostgreSQL makes the
        // second wait for the first's commit), so there is never more than one successor.
        let inserted = Entity::insert(row)
            .on_conflict_do_nothing_on([Column::Generation])
            .exec_without_returning(&txn)
            .await
            .map_err(map_err)?;
        if !matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
            return Ok(false);
        }
        Entity::update_many()
            .col_expr(Column::RetiredAt, Expr::value(retire_older_at))
            .filter(Column::RetiredAt.is_null())
            .filter(Column::Generation.lt(generation))
            .exec(&txn)
            .await
            .map_err(map_err)?;
        txn.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn delete_signing_keys_retired_by(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let result =
            Entity::delete_many().filter(Column::RetiredAt.lte(cutoff)).exec(&self.conn).await.map_err(map_err)?;
        Ok(result.rows_affected)
    }
}
