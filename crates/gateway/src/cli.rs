//! `keyward audit verify`, `keyward audit head` and `keyward audit export`.

use std::io::Write;

use keyward_domain::audit::AuditHead;
use keyward_domain::org::Organization;
use keyward_domain::repo::{AuditRepo, OrganizationRepo};

use crate::config::Config;

/// What to do with the audit trail.
pub enum AuditCommand {
    /// Recompute the chain and compare its end with the stored head.
    Verify {
        /// Only this organization.
        organization: Option<String>,
        /// A head recorded earlier (`keyward audit head`) that must still be in the chain, unchanged.
        expect_head: Option<AuditHead>,
    },
    /// Print each organization's stored head, to record outside the database.
    Head {
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
        AuditCommand::Verify { organization, expect_head } => {
            let orgs = organizations(&db, organization.as_deref()).await?;
            if expect_head.is_some() && orgs.len() > 1 {
                return Err("--expect-head is one organization's head: name it with --organization SLUG".into());
            }
            verify(&db, orgs, expect_head).await
        }
        AuditCommand::Head { organization } => {
            let mut missing = Vec::new();
            for org in organizations(&db, organization.as_deref()).await? {
                match db.audit_head(org.id).await.map_err(|e| e.to_string())? {
                    Some(head) => println!("org={} seq={} hash={}", org.slug, head.seq, head.hash),
                    None => missing.push(org.slug),
                }
            }
            if missing.is_empty() { Ok(()) } else { Err(format!("no stored audit head for {}", missing.join(", "))) }
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

async fn verify(
    db: &keyward_storage::Database,
    orgs: Vec<Organization>,
    expect_head: Option<AuditHead>,
) -> Result<(), String> {
    let mut broken = Vec::new();
    for org in orgs {
        let verdict = keyward_storage::db::verify_chain_expecting(db, org.id, expect_head.clone())
            .await
            .map_err(|e| e.to_string())?;
        let (checked, slug) = (verdict.checked, &org.slug);
        match (&verdict.problem, verdict.first_broken_seq) {
            (None, _) => println!("{slug}: ok, {checked} events checked, verified head {}", verdict.end),
            (Some(problem), Some(seq)) => {
                println!("{slug}: BROKEN at event {seq} ({checked} events checked): {problem}");
                broken.push(format!("{slug}: {problem}"));
            }
            (Some(problem), None) => {
                println!("{slug}: BROKEN ({checked} events checked): {problem}");
                broken.push(format!("{slug}: {problem}"));
            }
        }
    }
    if broken.is_empty() { Ok(()) } else { Err(format!("audit chain broken: {}", broken.join("; "))) }
}
