//! Appending to the audit chain inside the caller's transaction: the head is locked and the
//! events' missing names are read in one statement, then every event of the write goes in with
//! one insert and the head moves once (on PostgreSQL the insert and the move are one statement),
//! so a write's audit costs two statements however many events it carries.

use chrono::Utc;
use keyward_domain::StoreError;
use keyward_domain::audit::{AuditEvent, AuditHead, AuditRecord, GENESIS_HASH, NameSource};
use keyward_domain::ids::OrgId;
use sea_orm::sea_query::{Alias, Expr, LockType, Query, SelectStatement};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, IdenStatic, Iterable, Set, Statement, Value};

use super::entities::{audit_event, audit_head, member, organization, security_key};
use super::{map_err, to_i64, to_u64};
use crate::request_context;

/// Events per insert: 16 bound values each keeps one statement well below both engines' limits
/// on bound values (SQLite 32,766; PostgreSQL 65,535).
const EVENTS_PER_INSERT: usize = 200;

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
    record: AuditRecord,
) -> Result<AuditRecord, StoreError> {
    let mut records = [record];
    if records[0].unnamed_actor().is_none() && records[0].unnamed_target().is_none() {
        let [record] = records;
        return Ok(record);
    }
    let select = Query::select().and_name_columns(&records, org).to_owned();
    if let Some(row) = txn.query_one(&select).await.map_err(map_err)? {
        fill_names(&row, &mut records)?;
    }
    let [record] = records;
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

/// A scalar subquery for the display name of `source` within `org` (NULL when there is none).
fn name_of(source: Option<NameSource>, org: OrgId) -> Expr {
    let query: SelectStatement = match source {
        Some(NameSource::Member(id)) => Query::select()
            .column(member::Column::Username)
            .from(member::Entity)
            .and_where(member::Column::Id.eq(id.0))
            .and_where(member::Column::OrgId.eq(org.0))
            .to_owned(),
        Some(NameSource::SecurityKey(id)) => Query::select()
            .column(security_key::Column::Name)
            .from(security_key::Entity)
            .and_where(security_key::Column::Id.eq(id.0))
            .and_where(security_key::Column::OrgId.eq(org.0))
            .to_owned(),
        Some(NameSource::Organization(id)) if id == org => Query::select()
            .column(organization::Column::Name)
            .from(organization::Entity)
            .and_where(organization::Column::Id.eq(id.0))
            .to_owned(),
        Some(NameSource::Organization(_)) | None => return Expr::cust("NULL"),
    };
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
/// `org` is the placeholder number of the organization's ID. Values are appended to `values`.
pub(crate) fn basis_checks(reads: &[NameRead], org: usize, values: &mut Vec<Value>) -> String {
    let mut sql = String::new();
    for read in reads {
        let (query, id) = match read.source {
            NameSource::Member(id) => ("SELECT username FROM members WHERE id = ${id} AND org_id = ${org}", id.0),
            NameSource::SecurityKey(id) => {
                ("SELECT name FROM security_keys WHERE id = ${id} AND org_id = ${org}", id.0)
            }
            NameSource::Organization(id) => ("SELECT name FROM organizations WHERE id = ${id} AND id = ${org}", id.0),
        };
        values.push(id.into());
        let query = query.replace("{id}", &values.len().to_string()).replace("{org}", &org.to_string());
        values.push(read.name.clone().into());
        sql.push_str(&format!(" AND ({query}) IS NOT DISTINCT FROM ${}", values.len()));
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
    let columns = event_columns();
    for (i, event) in events.iter().enumerate() {
        let row = event_values(event)?;
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
async fn write_events(txn: &impl ConnectionTrait, org: OrgId, events: &[AuditEvent]) -> Result<(), StoreError> {
    let backend = txn.get_database_backend();
    let Some(last) = events.last() else { return Ok(()) };
    let chunks: Vec<&[AuditEvent]> = events.chunks(EVENTS_PER_INSERT).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let (mut sql, mut values) = insert_events(backend, chunk)?;
        let moves_head = i + 1 == chunks.len() && backend == DbBackend::Postgres;
        if moves_head {
            let n = values.len();
            sql = format!(
                "WITH inserted AS ({sql}) UPDATE audit_heads SET seq = ${}, hash = ${} WHERE org_id = ${}",
                n + 1,
                n + 2,
                n + 3
            );
            values.extend([to_i64(last.seq).into(), last.hash.clone().into(), org.0.into()]);
        }
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await.map_err(map_err)?;
    }
    if backend != DbBackend::Postgres {
        let update = Query::update()
            .table(audit_head::Entity)
            .value(audit_head::Column::Seq, to_i64(last.seq))
            .value(audit_head::Column::Hash, last.hash.clone())
            .and_where(audit_head::Column::OrgId.eq(org.0))
            .to_owned();
        txn.execute(&update).await.map_err(map_err)?;
    }
    Ok(())
}

/// `INSERT INTO audit_events (…) VALUES (…), (…)` for `events`, with its bound values.
fn insert_events(backend: DbBackend, events: &[AuditEvent]) -> Result<(String, Vec<Value>), StoreError> {
    let mut values = Vec::new();
    let mut rows = Vec::with_capacity(events.len());
    for event in events {
        let row = event_values(event)?;
        rows.push(format!("({})", placeholders(backend, values.len() + 1, row.len())));
        values.extend(row);
    }
    Ok((format!("INSERT INTO audit_events ({}) VALUES {}", event_columns(), rows.join(", ")), values))
}

/// The event columns, comma-separated, in the order of [`event_values`].
pub(crate) fn event_columns() -> String {
    audit_event::Column::iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
}

/// `count` placeholders numbered from `first` (`$n` on PostgreSQL, `?` on SQLite).
pub(crate) fn placeholders(backend: DbBackend, first: usize, count: usize) -> String {
    let one = |n: usize| if backend == DbBackend::Postgres { format!("${n}") } else { "?".to_owned() };
    (first..first + count).map(one).collect::<Vec<_>>().join(", ")
}

/// An event's values in the order of `audit_event::Column::iter()`, from [`event_row`].
pub(crate) fn event_values(event: &AuditEvent) -> Result<Vec<Value>, StoreError> {
    let row = event_row(event);
    audit_event::Column::iter()
        .map(|column| {
            row.get(column).into_value().ok_or_else(|| StoreError::Unexpected("an audit column left unset".into()))
        })
        .collect()
}

/// The row that stores `event`: the one mapping of an event to its columns.
pub(crate) fn event_row(event: &AuditEvent) -> audit_event::ActiveModel {
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
