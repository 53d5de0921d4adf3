//! Members, and the member list with key counts in one query.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keyward_domain::audit::AuditRecord;
use keyward_domain::ids::{MemberId, OrgId};
use keyward_domain::member::{Member, NewMember, OidcIdentity, Role, deactivation_allowed};
use keyward_domain::repo::{MemberQuery, MemberRepo, MemberStats, MemberSummary, Page};
use keyward_domain::sso_groups::{AdminGroups, GroupClaims};
use keyward_domain::{DomainError, StoreError};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, JoinType, LikeExpr, Order, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QuerySelect, Set, TransactionTrait,
};

use super::audit_append::append_in;
use super::convert::member_from;
use super::entities::{member, organization, security_key};
use super::{Database, map_err, to_u64};

/// An organization's members (alias `m`) left-joined with their keys (alias `k`), one group per
/// member: the base of the member list and of the member counts.
fn members_with_keys(org: OrgId) -> sea_orm::sea_query::SelectStatement {
    let (m, k) = (Alias::new("m"), Alias::new("k"));
    Query::select()
        .from_as(member::Entity, m.clone())
        .join_as(
            JoinType::LeftJoin,
            security_key::Entity,
            k.clone(),
            Expr::col((k, security_key::Column::MemberId)).equals((m.clone(), member::Column::Id)),
        )
        .and_where(Expr::col((m.clone(), member::Column::OrgId)).eq(org.0))
        .group_by_col((m, member::Column::Id))
        .to_owned()
}

/// The totals [`MemberRepo::member_stats`] reads.
#[derive(FromQueryResult, Default)]
struct StatsRow {
    members: i64,
    with_key: i64,
    with_one_key: i64,
    deactivated: i64,
}

/// A `LIKE` pattern matching `text` anywhere, lower-cased, with `%`, `_` and `\` taken literally.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

pub(crate) async fn insert_member(
    db: &impl ConnectionTrait,
    id: MemberId,
    new: NewMember,
    at: DateTime<Utc>,
) -> Result<Member, StoreError> {
    let (issuer, subject) = match new.oidc {
        Some(OidcIdentity { issuer, subject }) => (Some(issuer), Some(subject)),
        None => (None, None),
    };
    let row = member::ActiveModel {
        id: Set(id.0),
        org_id: Set(new.org_id.0),
        username: Set(new.username),
        display_name: Set(new.display_name),
        email: Set(new.email),
        role: Set(new.role.as_str().to_owned()),
        oidc_issuer: Set(issuer),
        oidc_subject: Set(subject),
        created_at: Set(at),
        last_login_at: Set(None),
        deactivated_at: Set(None),
        idp_groups: Set(None),
    }
    .insert(db)
    .await
    .map_err(map_err)?;
    member_from(row)
}

#[derive(FromQueryResult)]
struct MemberWithKeyCount {
    id: uuid::Uuid,
    org_id: uuid::Uuid,
    username: String,
    display_name: String,
    email: Option<String>,
    role: String,
    oidc_issuer: Option<String>,
    oidc_subject: Option<String>,
    created_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
    deactivated_at: Option<DateTime<Utc>>,
    key_count: i64,
}

impl MemberWithKeyCount {
    fn into_summary(self) -> Result<MemberSummary, StoreError> {
        let key_count = to_u64(self.key_count);
        let member = member_from(member::Model {
            id: self.id,
            org_id: self.org_id,
            username: self.username,
            display_name: self.display_name,
            email: self.email,
            role: self.role,
            oidc_issuer: self.oidc_issuer,
            oidc_subject: self.oidc_subject,
            created_at: self.created_at,
            last_login_at: self.last_login_at,
            deactivated_at: self.deactivated_at,
            idp_groups: None,
        })?;
        Ok(MemberSummary { member, key_count })
    }
}

impl Database {
    /// Changes one member of `org` (read under the transaction, so `change` sees the current row)
    /// and appends `audit`, atomically.
    async fn change_member(
        &self,
        org: OrgId,
        id: MemberId,
        audit: AuditRecord,
        change: impl FnOnce(member::Model) -> Result<member::ActiveModel, StoreError> + Send,
    ) -> Result<Member, StoreError> {
        let txn = self.conn.begin().await.map_err(map_err)?;
        let row = member::Entity::find_by_id(id.0)
            .filter(member::Column::OrgId.eq(org.0))
            .one(&txn)
            .await
            .map_err(map_err)?
            .ok_or(StoreError::NotFound)?;
        let row = change(row)?.update(&txn).await.map_err(map_err)?;
        append_in(&txn, org, audit).await?;
        txn.commit().await.map_err(map_err)?;
        member_from(row)
    }
}

#[async_trait]
impl MemberRepo for Database {
    async fn member(&self, org: OrgId, id: MemberId) -> Result<Option<Member>, StoreError> {
        member::Entity::find_by_id(id.0)
            .filter(member::Column::OrgId.eq(org.0))
            .one(&self.conn)
            .await
            .map_err(map_err)?
            .map(member_from)
            .transpose()
    }

    async fn member_by_username(&self, org: OrgId, username: &str) -> Result<Option<Member>, StoreError> {
        member::Entity::find()
            .filter(member::Column::OrgId.eq(org.0))
            .filter(member::Column::Username.eq(username))
            .one(&self.conn)
            .await
            .map_err(map_err)?
            .map(member_from)
            .transpose()
    }

    async fn members_by_login(&self, org: OrgId, who: &[&str]) -> Result<Vec<Option<Member>>, StoreError> {
        use sea_orm::sea_query::Func;
        let who: Vec<String> = who.iter().map(|w| w.trim().to_lowercase()).collect();
        let asked: Vec<&String> = who.iter().filter(|w| !w.is_empty()).collect();
        if asked.is_empty() {
            return Ok(vec![None; who.len()]);
        }
        let lower = |column: member::Column| Expr::expr(Func::lower(Expr::col(column)));
        let rows = member::Entity::find()
            .filter(member::Column::OrgId.eq(org.0))
            .filter(
                lower(member::Column::Username)
                    .is_in(asked.iter().map(|w| w.as_str()))
                    .or(lower(member::Column::Email).is_in(asked.iter().map(|w| w.as_str()))),
            )
            .all(&self.conn)
            .await
            .map_err(map_err)?;
        let members = rows.into_iter().map(member_from).collect::<Result<Vec<_>, _>>()?;
        let named = |w: &String| {
            Some(w).filter(|w| !w.is_empty()).and_then(|w| keyward_domain::approval::input::find_member(w, &members))
        };
        Ok(who.iter().map(|w| named(w).cloned()).collect())
    }

    async fn member_by_oidc(&self, org: OrgId, identity: &OidcIdentity) -> Result<Option<Member>, StoreError> {
        member::Entity::find()
            .filter(member::Column::OrgId.eq(org.0))
            .filter(member::Column::OidcIssuer.eq(identity.issuer.as_str()))
            .filter(member::Column::OidcSubject.eq(identity.subject.as_str()))
            .one(&self.conn)
            .await
            .map_err(map_err)?
            .map(member_from)
            .transpose()
    }

    async fn create_member(&self, new: NewMember, at: DateTime<Utc>, audit: AuditRecord) -> Result<Member, StoreError> {
        let org = new.org_id;
        let txn = self.conn.begin().await.map_err(map_err)?;
        let member = insert_member(&txn, MemberId::new(), new, at).await?;
        append_in(&txn, org, audit).await?;
        txn.commit().await.map_err(map_err)?;
        Ok(member)
    }

    async fn link_oidc(
        &self,
        org: OrgId,
        id: MemberId,
        identity: OidcIdentity,
        audit: AuditRecord,
    ) -> Result<Member, StoreError> {
        self.change_member(org, id, audit, |row| {
            if row.oidc_subject.is_some() {
                return Err(StoreError::Conflict("member already linked to an IdP account".into()));
            }
            Ok(member::ActiveModel {
                id: Set(id.0),
                oidc_issuer: Set(Some(identity.issuer)),
                oidc_subject: Set(Some(identity.subject)),
                ..Default::default()
            })
        })
        .await
    }

    async fn set_role(&self, org: OrgId, id: MemberId, role: Role, audit: AuditRecord) -> Result<Member, StoreError> {
        self.change_member(org, id, audit, |_| {
            Ok(member::ActiveModel { id: Set(id.0), role: Set(role.as_str().to_owned()), ..Default::default() })
        })
        .await
    }

    async fn set_deactivated(
        &self,
        org: OrgId,
        actor: MemberId,
        id: MemberId,
        at: Option<DateTime<Utc>>,
        audit: AuditRecord,
    ) -> Result<Member, DomainError> {
        let txn = self.conn.begin().await.map_err(map_err)?;
        // Locking the organization's row serializes changes to who is an active admin, so two
        // admins deactivating each other cannot both pass the last-admin check.
        organization::Entity::find_by_id(org.0)
            .lock_exclusive()
            .one(&txn)
            .await
            .map_err(map_err)?
            .ok_or(DomainError::NotFound)?;
        let row = member::Entity::find_by_id(id.0)
            .filter(member::Column::OrgId.eq(org.0))
            .one(&txn)
            .await
            .map_err(map_err)?
            .ok_or(DomainError::NotFound)?;
        let target = member_from(row)?;
        if at.is_some() {
            let active_admins = member::Entity::find()
                .filter(member::Column::OrgId.eq(org.0))
                .filter(member::Column::Role.eq(Role::Admin.as_str()))
                .filter(member::Column::DeactivatedAt.is_null())
                .count(&txn)
                .await
                .map_err(map_err)?;
            deactivation_allowed(actor, &target, active_admins)?;
        }
        let row = member::ActiveModel { id: Set(id.0), deactivated_at: Set(at), ..Default::default() }
            .update(&txn)
            .await
            .map_err(map_err)?;
        append_in(&txn, org, audit).await?;
        txn.commit().await.map_err(map_err)?;
        Ok(member_from(row)?)
    }

    async fn record_login(&self, org: OrgId, id: MemberId, at: DateTime<Utc>) -> Result<(), StoreError> {
        let result = member::Entity::update_many()
            .col_expr(member::Column::LastLoginAt, Expr::value(at))
            .filter(member::Column::Id.eq(id.0))
            .filter(member::Column::OrgId.eq(org.0))
            .exec(&self.conn)
            .await
            .map_err(map_err)?;
        if result.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn record_idp_groups(&self, org: OrgId, id: MemberId, groups: &GroupClaims) -> Result<(), StoreError> {
        let text = serde_json::to_string(groups).map_err(|e| StoreError::Unexpected(e.to_string()))?;
        member::Entity::update_many()
            .col_expr(member::Column::IdpGroups, Expr::value(text))
            .filter(member::Column::Id.eq(id.0))
            .filter(member::Column::OrgId.eq(org.0))
            .exec(&self.conn)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn admin_idp_groups(&self, org: OrgId) -> Result<Vec<AdminGroups>, StoreError> {
        let rows = member::Entity::find()
            .filter(member::Column::OrgId.eq(org.0))
            .filter(member::Column::Role.eq(Role::Admin.as_str()))
            .filter(member::Column::DeactivatedAt.is_null())
            .all(&self.conn)
            .await
            .map_err(map_err)?;
        Ok(rows
            .into_iter()
            .map(|row| AdminGroups {
                sso_linked: row.oidc_subject.is_some(),
                // Unreadable groups count as unknown: the check then refuses rather than guesses.
                groups: row.idp_groups.as_deref().and_then(|text| serde_json::from_str(text).ok()),
                username: row.username,
            })
            .collect())
    }

    async fn count_members_without_key(&self, org: OrgId) -> Result<u64, StoreError> {
        let with_keys = Query::select().column(security_key::Column::MemberId).from(security_key::Entity).to_owned();
        let keyless = member::Entity::find()
            .filter(member::Column::OrgId.eq(org.0))
            .filter(member::Column::DeactivatedAt.is_null())
            .filter(member::Column::Id.not_in_subquery(with_keys));
        PaginatorTrait::count(keyless, &self.conn).await.map_err(map_err)
    }

    async fn member_stats(&self, org: OrgId) -> Result<MemberStats, StoreError> {
        let (m, k) = (Alias::new("m"), Alias::new("k"));
        let per_member = members_with_keys(org)
            .expr_as(Expr::col((m.clone(), member::Column::DeactivatedAt)), Alias::new("d"))
            .expr_as(Expr::col((k, security_key::Column::Id)).count(), Alias::new("kc"))
            .group_by_col((m, member::Column::DeactivatedAt))
            .to_owned();
        let sum = |condition: &str, alias: &str| {
            (Expr::cust(format!("COALESCE(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END), 0)")), Alias::new(alias))
        };
        let mut totals = Query::select();
        for (expr, alias) in [
            sum("d IS NULL", "members"),
            sum("d IS NULL AND kc > 0", "with_key"),
            sum("d IS NULL AND kc = 1", "with_one_key"),
            sum("d IS NOT NULL", "deactivated"),
        ] {
            totals.expr_as(expr, alias);
        }
        totals.from_subquery(per_member, Alias::new("t"));
        let statement = self.conn.get_database_backend().build(&totals);
        let row = StatsRow::find_by_statement(statement).one(&self.conn).await.map_err(map_err)?.unwrap_or_default();
        Ok(MemberStats {
            members: to_u64(row.members),
            with_key: to_u64(row.with_key),
            with_one_key: to_u64(row.with_one_key),
            deactivated: to_u64(row.deactivated),
        })
    }

    async fn members(&self, org: OrgId, query: MemberQuery) -> Result<Page<MemberSummary>, StoreError> {
        let m = Alias::new("m");
        let k = Alias::new("k");
        // The page is chosen from the members alone (index (org_id, id)), and keys are counted
        // for its rows only: a join and GROUP BY would count every member's keys first, so a page
        // cost grew with the organization (1,000 to 100,000 members: 100 times slower).
        let keys_of_member = Query::select()
            .from_as(security_key::Entity, k.clone())
            .and_where(Expr::col((k.clone(), security_key::Column::MemberId)).equals((m.clone(), member::Column::Id)))
            .to_owned();
        let key_count =
            keys_of_member.clone().expr(Expr::col((k.clone(), security_key::Column::Id)).count()).to_owned();
        let mut select = Query::select();
        select
            .from_as(member::Entity, m.clone())
            .columns(
                [
                    member::Column::Id,
                    member::Column::OrgId,
                    member::Column::Username,
                    member::Column::DisplayName,
                    member::Column::Email,
                    member::Column::Role,
                    member::Column::OidcIssuer,
                    member::Column::OidcSubject,
                    member::Column::CreatedAt,
                    member::Column::LastLoginAt,
                    member::Column::DeactivatedAt,
                ]
                .map(|column| (m.clone(), column)),
            )
            .expr_as(Expr::SubQuery(None, Box::new(key_count.into())), Alias::new("key_count"))
            .and_where(Expr::col((m.clone(), member::Column::OrgId)).eq(org.0))
            .order_by((m.clone(), member::Column::Id), Order::Asc)
            .limit(query.first + 1);
        if let Some(after) = query.after {
            select.and_where(Expr::col((m.clone(), member::Column::Id)).gt(after.0));
        }
        if query.without_key {
            let any_key = keys_of_member.clone().expr(Expr::val(1)).to_owned();
            select.and_where(Expr::not_exists(any_key));
        }
        if let Some(search) = &query.search {
            let pattern = like_pattern(search);
            let matches = |column: member::Column| {
                Func::lower(Expr::col((m.clone(), column))).like(LikeExpr::new(pattern.clone()).escape('\\'))
            };
            select.and_where(
                matches(member::Column::Username)
                    .or(matches(member::Column::DisplayName))
                    .or(matches(member::Column::Email)),
            );
        }
        let statement = self.conn.get_database_backend().build(&select);
        let rows = MemberWithKeyCount::find_by_statement(statement).all(&self.conn).await.map_err(map_err)?;
        let has_more = rows.len() as u64 > query.first;
        let items = rows
            .into_iter()
            .take(usize::try_from(query.first).unwrap_or(usize::MAX))
            .map(MemberWithKeyCount::into_summary)
            .collect::<Result<_, _>>()?;
        Ok(Page { items, has_more })
    }
}
