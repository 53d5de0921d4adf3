//! Members, and the member list with key counts in one query.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keyward_domain::audit::AuditRecord;
use keyward_domain::ids::{MemberId, OrgId};
use keyward_domain::member::{Member, NewMember, OidcIdentity, Role, deactivation_allowed};
use keyward_domain::repo::{MemberQuery, MemberRepo, MemberSummary, Page};
use keyward_domain::{DomainError, StoreError};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType, Order, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QuerySelect, Set, TransactionTrait,
};

use super::audit::append_in;
use super::convert::member_from;
use super::entities::{member, organization, security_key};
use super::{Database, map_err, to_u64};

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

    async fn member_by_login(&self, org: OrgId, who: &str) -> Result<Option<Member>, StoreError> {
        use sea_orm::sea_query::Func;
        let who = who.trim().to_lowercase();
        if who.is_empty() {
            return Ok(None);
        }
        let lower = |column: member::Column| Expr::expr(Func::lower(Expr::col(column)));
        let rows = member::Entity::find()
            .filter(member::Column::OrgId.eq(org.0))
            .filter(lower(member::Column::Username).eq(who.clone()).or(lower(member::Column::Email).eq(who.clone())))
            .all(&self.conn)
            .await
            .map_err(map_err)?;
        let members = rows.into_iter().map(member_from).collect::<Result<Vec<_>, _>>()?;
        Ok(keyward_domain::approval::input::find_member(&who, &members).cloned())
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

    async fn count_members_without_key(&self, org: OrgId) -> Result<u64, StoreError> {
        let with_keys = Query::select().column(security_key::Column::MemberId).from(security_key::Entity).to_owned();
        let keyless = member::Entity::find()
            .filter(member::Column::OrgId.eq(org.0))
            .filter(member::Column::DeactivatedAt.is_null())
            .filter(member::Column::Id.not_in_subquery(with_keys));
        PaginatorTrait::count(keyless, &self.conn).await.map_err(map_err)
    }

    async fn members(&self, org: OrgId, query: MemberQuery) -> Result<Page<MemberSummary>, StoreError> {
        let m = Alias::new("m");
        let k = Alias::new("k");
        let mut select = Query::select();
        select
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
            .expr_as(Expr::col((k.clone(), security_key::Column::Id)).count(), Alias::new("key_count"))
            .from_as(member::Entity, m.clone())
            .join_as(
                JoinType::LeftJoin,
                security_key::Entity,
                k.clone(),
                Expr::col((k.clone(), security_key::Column::MemberId)).equals((m.clone(), member::Column::Id)),
            )
            .and_where(Expr::col((m.clone(), member::Column::OrgId)).eq(org.0))
            .group_by_col((m.clone(), member::Column::Id))
            .order_by((m.clone(), member::Column::Id), Order::Asc)
            .limit(query.first + 1);
        if let Some(after) = query.after {
            select.and_where(Expr::col((m.clone(), member::Column::Id)).gt(after.0));
        }
        if query.without_key {
            select.and_having(Expr::col((k.clone(), security_key::Column::Id)).count().eq(0));
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
