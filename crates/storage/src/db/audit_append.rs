//! Appending to the audit chain inside the caller's transaction: the head is locked and the
//! events' missing names are read in one statement, then every event of the write goes in with
//! one insert and the head moves once (on PostgreSQL the insert and the move are one statement),
//! so a write's audit costs two statements however many events it carries.

use chrono::Utc;
use keyward_domain::StoreError;
use keyward_domain::audit::{AuditEvent, AuditHead, AuditRecord, GENESIS_HASH, NameSource};
use keyward_domain::ids::OrgId;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, LockType, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IdenStatic, Iterable, Set, Statement, Value,
};

use super::entities::{audit_event, audit_head};
use super::{map_err, to_i64, to_u64};
use crate::request_context;

/// Creates an organization's chain head; called in the transaction that creates the organization,
/// so appenders always find a row to lock.
pub(crate) async fn create_head(db: &impl ConnectionTrait, org: OrgId) -> Result<(), StoreError> {
    audit_head::ActiveModel { org_id: Set(org.0), seq: Set(0), hash: Set(GENESIS_HASH.to_owned()) }
        .insert(db)
        .await
        .map_err(map_err)?;
    Ok(())
}

/// Fills the record's name snapshots the caller left empty (the actor's username; the target's
/// username, key name or organization name) with one query inside `txn`, and none when nothing
/// is left to name. Repositories that delete the target's row call it before the delete.
pub(crate) async fn resolve_names(
    txn: &impl ConnectionTrait,
    org: OrgId,
    mut record: AuditRecord,
) -> Result<AuditRecord, StoreError> {
    if record.unnamed_actor().is_none() && record.unnamed_target().is_none() {
        return Ok(record);
    }
    let select = Query::select().and_name_columns(std::slice::from_ref(&record), org).to_owned();
    if let Some(row) = txn.query_one(&select).await.map_err(map_err)? {
        fill_names(&row, std::slice::from_mut(&mut record))?;
    }
    Ok(record)
}

/// The name columns of a select that names `records` (two per record, NULL when not needed).
trait NameColumns {
    fn and_name_columns(&mut self, records: &[AuditRecord], org: OrgId) -> &mut Self;
}

impl NameColumns for SelectStatement {
    fn and_name_columns(&mut self, records: &[AuditRecord], org: OrgId) -> &mut Self {
        for (i, record) in records.iter().enumerate() {
            let actor = record.unnamed_actor().map(NameSource::Member);
            self.expr_as(name_of(actor, org), Alias::new(format!("actor_name_{i}")));
            self.expr_as(name_of(record.unnamed_target(), org), Alias::new(format!("target_name_{i}")));
        }
        self
    }
}

/// Takes the names [`NameColumns`] selected into the records that lacked them.
fn fill_names(row: &sea_orm::QueryResult, records: &mut [AuditRecord]) -> Result<(), StoreError> {
    for (i, record) in records.iter_mut().enumerate() {
        let name = |column: String| row.try_get::<Option<String>>("", &column).map_err(map_err);
        if record.unnamed_actor().is_some() {
            record.actor_name = name(format!("actor_name_{i}"))?;
        }
        if record.unnamed_target().is_some() {
            record.target_name = name(format!("target_name_{i}"))?;
        }
    }
    Ok(())
}

/// Where the display name of `source` within `org` lives: (table, column, the row's ID, the
/// column that must equal `org`'s ID); `None` when it has none here. The one place that says it,
/// for the names read ([`name_of`]) and for the recheck of names read earlier ([`basis_checks`]).
fn name_home(source: NameSource, org: OrgId) -> Option<(&'static str, &'static str, uuid::Uuid, &'static str)> {
    match source {
        NameSource::Member(id) => Some(("members", "username", id.0, "org_id")),
        NameSource::SecurityKey(id) => Some(("security_keys", "name", id.0, "org_id")),
        NameSource::Organization(id) if id == org => Some(("organizations", "name", id.0, "id")),
        NameSource::Organization(_) => None,
    }
}

/// A scalar subquery for the display name of `source` within `org` (NULL when there is none).
fn name_of(source: Option<NameSource>, org: OrgId) -> Expr {
    let Some((table, column, id, scope)) = source.and_then(|source| name_home(source, org)) else {
        return Expr::cust("NULL");
    };
    let query = Query::select()
        .column(Alias::new(column))
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new("id")).eq(id))
        .and_where(Expr::col(Alias::new(scope)).eq(org.0))
        .to_owned();
    Expr::SubQuery(None, Box::new(query.into()))
}

/// `record` with the current request's context (see [`request_context`]), when there is one.
pub(crate) fn with_request_context(record: AuditRecord) -> AuditRecord {
    match request_context::current() {
        Some(meta) => record.with_request(&meta),
        None => record,
    }
}

/// Appends `record` to `org`'s chain inside `txn`: [`append_all_in`] with one record.
pub(crate) async fn append_in(
    txn: &impl ConnectionTrait,
    org: OrgId,
    record: AuditRecord,
) -> Result<AuditEvent, StoreError> {
    let mut events = append_all_in(txn, org, vec![record]).await?;
    events.pop().ok_or_else(|| StoreError::Unexpected("an append wrote no event".into()))
}

/// Appends `records`, in order, to `org`'s chain inside `txn`, with the current request's context
/// (see [`request_context`]) and name snapshots filled in where the caller gave none. The head
/// row is locked (`FOR UPDATE` on PostgreSQL; SQLite has a single writer), so concurrent
/// appenders queue instead of forking.
pub(crate) async fn append_all_in(
    txn: &impl ConnectionTrait,
    org: OrgId,
    records: Vec<AuditRecord>,
) -> Result<Vec<AuditEvent>, StoreError> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let mut records: Vec<AuditRecord> = records.into_iter().map(with_request_context).collect();
    let head = head_naming(txn, org, &mut records, true).await?;
    let events = seal_after(org, &head, records);
    write_events(txn, org, &events).await?;
    Ok(events)
}

/// `records` sealed in order after `head`, all at one instant.
pub(crate) fn seal_after(org: OrgId, head: &AuditHead, records: Vec<AuditRecord>) -> Vec<AuditEvent> {
    let at = Utc::now();
    let mut previous = head.clone();
    records
        .into_iter()
        .map(|record| {
            let event = AuditEvent::seal(org, previous.seq + 1, &previous.hash, at, record);
            previous = AuditHead { seq: event.seq, hash: event.hash.clone() };
            event
        })
        .collect()
}

/// A name an event took from a read before its write's single statement, which rechecks it.
pub(crate) struct NameRead {
    source: NameSource,
    name: Option<String>,
}

/// `org`'s head without locking it, and the names `records` still need (filled in), for a write
/// that then checks in one statement that neither moved ([`basis_checks`]).
pub(crate) async fn read_basis(
    conn: &impl ConnectionTrait,
    org: OrgId,
    records: &mut [AuditRecord],
) -> Result<(AuditHead, Vec<NameRead>), StoreError> {
    let needed: Vec<(Option<NameSource>, Option<NameSource>)> =
        records.iter().map(|r| (r.unnamed_actor().map(NameSource::Member), r.unnamed_target())).collect();
    let head = head_naming(conn, org, records, false).await?;
    let mut reads = Vec::new();
    for ((actor, target), record) in needed.into_iter().zip(records.iter()) {
        reads.extend(actor.map(|source| NameRead { source, name: record.actor_name.clone() }));
        reads.extend(target.map(|source| NameRead { source, name: record.target_name.clone() }));
    }
    Ok((head, reads))
}

/// PostgreSQL conditions that `reads` still hold (`AND …` each), for the statement's `basis`;
/// `org_placeholder` is the placeholder number of `org`'s ID. Values are appended to `values`.
pub(crate) fn basis_checks(reads: &[NameRead], org: OrgId, org_placeholder: usize, values: &mut Vec<Value>) -> String {
    let mut sql = String::new();
    for read in reads {
        let Some((table, column, id, scope)) = name_home(read.source, org) else { continue };
        values.extend([id.into(), read.name.clone().into()]);
        let (id, name) = (values.len() - 1, values.len());
        sql.push_str(&format!(
            " AND (SELECT {column} FROM {table} WHERE id = ${id} AND {scope} = ${org_placeholder}) \
             IS NOT DISTINCT FROM ${name}"
        ));
    }
    sql
}

/// PostgreSQL CTEs (each after a comma) that move `org`'s head to the last of `events` and insert
/// them, all only when the statement's `basis` CTE found its row; `org` is the placeholder
/// number of the organization's ID. Values are appended to `values`.
pub(crate) fn chain_ctes(events: &[AuditEvent], org: usize, values: &mut Vec<Value>) -> Result<String, StoreError> {
    let Some(last) = events.last() else { return Ok(String::new()) };
    values.extend([to_i64(last.seq).into(), last.hash.clone().into()]);
    let (seq, hash) = (values.len() - 1, values.len());
    let mut sql = format!(
        ", head AS (UPDATE audit_heads SET seq = ${seq}, hash = ${hash} WHERE org_id = ${org} \
         AND EXISTS (SELECT 1 FROM basis) RETURNING 1)"
    );
    let columns = row_columns::<audit_event::ActiveModel>();
    for (i, event) in events.iter().enumerate() {
        let row = row_values(&event_row(event))?;
        let placeholders = placeholders(DbBackend::Postgres, values.len() + 1, row.len());
        sql.push_str(&format!(
            ", event{i} AS (INSERT INTO audit_events ({columns}) SELECT {placeholders} \
             WHERE EXISTS (SELECT 1 FROM basis) RETURNING 1)"
        ));
        values.extend(row);
    }
    Ok(sql)
}

/// `org`'s head, locked for the transaction when `lock` is set, with the names `records` still
/// need (filled in), in one statement.
async fn head_naming(
    conn: &impl ConnectionTrait,
    org: OrgId,
    records: &mut [AuditRecord],
    lock: bool,
) -> Result<AuditHead, StoreError> {
    let mut select = Query::select()
        .columns([audit_head::Column::Seq, audit_head::Column::Hash])
        .from(audit_head::Entity)
        .and_where(audit_head::Column::OrgId.eq(org.0))
        .and_name_columns(records, org)
        .to_owned();
    if lock {
        select.lock(LockType::Update);
    }
    let row = conn
        .query_one(&select)
        .await
        .map_err(map_err)?
        .ok_or_else(|| StoreError::Unexpected(format!("organization {org} has no audit head")))?;
    fill_names(&row, records)?;
    let seq: i64 = row.try_get("", audit_head::Column::Seq.as_str()).map_err(map_err)?;
    let hash: String = row.try_get("", audit_head::Column::Hash.as_str()).map_err(map_err)?;
    Ok(AuditHead { seq: to_u64(seq), hash })
}

/// Inserts `events` (already sealed after the locked head) and moves the head to the last one.
/// A write carries a handful of events (three at most today), far below either engine's limit
/// on bound values (16 per event: SQLite 32,766, PostgreSQL 65,535).
async fn write_events(txn: &impl ConnectionTrait, org: OrgId, events: &[AuditEvent]) -> Result<(), StoreError> {
    let backend = txn.get_database_backend();
    let Some(last) = events.last() else { return Ok(()) };
    let (insert, mut values) = insert_events(backend, events)?;
    if backend == DbBackend::Postgres {
        let n = values.len();
        let sql = format!(
            "WITH inserted AS ({insert}) UPDATE audit_heads SET seq = ${}, hash = ${} WHERE org_id = ${}",
            n + 1,
            n + 2,
            n + 3
        );
        values.extend([to_i64(last.seq).into(), last.hash.clone().into(), org.0.into()]);
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await.map_err(map_err)?;
        return Ok(());
    }
    txn.execute_raw(Statement::from_sql_and_values(backend, insert, values)).await.map_err(map_err)?;
    let update = Query::update()
        .table(audit_head::Entity)
        .value(audit_head::Column::Seq, to_i64(last.seq))
        .value(audit_head::Column::Hash, last.hash.clone())
        .and_where(audit_head::Column::OrgId.eq(org.0))
        .to_owned();
    txn.execute(&update).await.map_err(map_err)?;
    Ok(())
}

/// `INSERT INTO audit_events (…) VALUES (…), (…)` for `events`, with its bound values.
fn insert_events(backend: DbBackend, events: &[AuditEvent]) -> Result<(String, Vec<Value>), StoreError> {
    let mut values = Vec::new();
    let mut rows = Vec::with_capacity(events.len());
    for event in events {
        let row = row_values(&event_row(event))?;
        rows.push(format!("({})", placeholders(backend, values.len() + 1, row.len())));
        values.extend(row);
    }
    let columns = row_columns::<audit_event::ActiveModel>();
    Ok((format!("INSERT INTO audit_events ({columns}) VALUES {}", rows.join(", ")), values))
}

/// The columns of `A`'s entity, comma-separated, in the order of [`row_values`].
pub(crate) fn row_columns<A: ActiveModelTrait>() -> String {
    <A::Entity as EntityTrait>::Column::iter().map(|c| c.as_str().to_owned()).collect::<Vec<_>>().join(", ")
}

/// Every column's value of `row`, in the order of [`row_columns`]; all must be set.
pub(crate) fn row_values<A: ActiveModelTrait>(row: &A) -> Result<Vec<Value>, StoreError> {
    <A::Entity as EntityTrait>::Column::iter()
        .map(|column| {
            row.get(column)
                .into_value()
                .ok_or_else(|| StoreError::Unexpected(format!("column {} left unset", IdenStatic::as_str(&column))))
        })
        .collect()
}

/// Runs a one-statement write on PostgreSQL that ends in `SELECT (…) AS first, (…) AS second`,
/// and returns both counts; `name` says which write failed, `map` turns a database error into the
/// caller's own (a unique index that means something to it).
pub(crate) async fn two_counts(
    conn: &impl ConnectionTrait,
    sql: String,
    values: Vec<Value>,
    [first, second]: [&str; 2],
    map: impl Fn(StoreError) -> StoreError,
) -> Result<(i64, i64), StoreError> {
    let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
    let row = conn
        .query_one_raw(statement)
        .await
        .map_err(|err| map(map_err(err)))?
        .ok_or_else(|| StoreError::Unexpected(format!("{first}/{second}: the statement returned no row")))?;
    let count = |column| row.try_get::<i64>("", column).map_err(map_err);
    Ok((count(first)?, count(second)?))
}

/// `count` placeholders numbered from `first` (`$n` on PostgreSQL, `?` on SQLite).
pub(crate) fn placeholders(backend: DbBackend, first: usize, count: usize) -> String {
    let one = |n: usize| if backend == DbBackend::Postgres { format!("${n}") } else { "?".to_owned() };
    (first..first + count).map(one).collect::<Vec<_>>().join(", ")
}

/// The row that stores `event`: the one mapping of an event to its columns.
fn event_row(event: &AuditEvent) -> audit_event::ActiveModel {
    audit_event::ActiveModel {
        org_id: Set(event.org_id.0),
        seq: Set(to_i64(event.seq)),
        at: Set(event.at),
        actor: Set(event.actor.clone()),
        action: Set(event.action.clone()),
        target: Set(event.target.clone()),
        outcome: Set(event.outcome.clone()),
        ip: Set(event.ip.clone()),
        details: Set(event.details.to_string()),
        hash_version: Set(i16::from(event.hash_version)),
        user_agent: Set(event.user_agent.clone()),
        request_id: Set(event.request_id.clone()),
        actor_name: Set(event.actor_name.clone()),
        target_name: Set(event.target_name.clone()),
        prev_hash: Set(event.prev_hash.clone()),
        hash: Set(event.hash.clone()),
    }
}
