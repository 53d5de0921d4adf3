//! `keyward audit verify` and `keyward audit export`.

use std::io::Write;

use keyward_domain::org::Organization;
use keyward_domain::repo::{AuditRepo, OrganizationRepo};

use crate::config::Config;

/// What to do with the audit trail.
pub enum AuditCommand {
    /// Recompute the chain.
    Verify {
        /// Only this organization.
        organization: Option<String>,
    },
    /// Write JSON Lines to stdout.
    ExportJsonl {
        /// Only this organization.
        organization: Option<String>,
    },
}

async fn organizations(db: &keyward_storage::Database, slug: Option<&str>) -> Result<Vec<Organization>, String> {
    let all = db.organizations().await.map_err(|e| e.to_string())?;
    match slug {
        None => Ok(all),
        Some(slug) => {
            let found: Vec<_> = all.into_iter().filter(|o| o.slug == slug).collect();
            if found.is_empty() { Err(format!("no organization {slug:?}")) } else { Ok(found) }
        }
    }
}

/// Runs an audit command; `Err` (exit 1) when the chain is broken or the database fails.
pub async fn audit(config: Config, command: AuditCommand) -> Result<(), String> {
    let db = crate::open_database(&config).await.map_err(|e| e.to_string())?;
    match command {
        AuditCommand::Verify { organization } => {
            let mut broken = Vec::new();
            for org in organizations(&db, organization.as_deref()).await? {
                let verdict = keyward_storage::db::verify_chain(&db, org.id).await.map_err(|e| e.to_string())?;
                match verdict.first_broken_seq {
                    None => println!("{}: ok, {} events checked", org.slug, verdict.checked),
                    Some(seq) => {
                        println!("{}: BROKEN at event {seq} ({} events checked)", org.slug, verdict.checked);
                        broken.push(format!("{} at event {seq}", org.slug));
                    }
                }
            }
            if broken.is_empty() { Ok(()) } else { Err(format!("audit chain broken: {}", broken.join(", "))) }
        }
        AuditCommand::ExportJsonl { organization } => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            for org in organizations(&db, organization.as_deref()).await? {
                let mut after = 0;
                loop {
                    let events = db.audit_chain(org.id, after, 1000).await.map_err(|e| e.to_string())?;
                    let Some(last) = events.last() else { break };
                    after = last.seq;
                    for event in &events {
                        let mut line = serde_json::to_value(event).map_err(|e| e.to_string())?;
                        line["organization"] = serde_json::Value::from(org.slug.clone());
                        writeln!(out, "{line}").map_err(|e| e.to_string())?;
                    }
                }
            }
            Ok(())
        }
    }
}
