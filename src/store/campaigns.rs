//! Campaigns and their contacts: the actors' [`CampaignStore`] port.
//!
//! A step (contacts moved, the call made for one of them, the campaign's cursor and
//! counters) is one transaction. Each contact is updated only where its `version` is
//! still the one the actor read; if any is not, the whole step rolls back and the port
//! says so, so two writers can never both move one contact or dial it twice.

use super::calls::{insert_new_call, placeholders};
use super::campaign_rows::{self, CAMPAIGN_COLUMNS, CONTACT_COLUMNS};
use super::{error, Backend, SqlStore, StoreError};
use async_trait::async_trait;
use callvisor_actors::domain::campaign::{
    Campaign, CampaignStatus, Contact, ContactOutcome, ContactState, EtaInputs, OutcomeCounts,
    WaitReason,
};
use callvisor_actors::domain::CampaignId;
use callvisor_actors::ports::{CampaignStep, CampaignStore, RECENT_DIALS};
use chrono::{DateTime, Utc};
use sqlx::{Any, Row, Transaction};
use std::sync::LazyLock;

/// Contacts inserted per statement (16 values each). Small on SQLite: SQLite finds each
/// `$n` placeholder by walking the statement's list of names, so binding costs time
/// quadratic in a statement's values; at 500 rows (8,000 values) binding was nine tenths
/// of a CSV import, and 8 rows imported fastest (see BENCHMARKS.md). PostgreSQL binds in
/// linear time and pays a round trip per statement, so it takes large ones (well inside
/// its 65,535 parameters).
fn contacts_per_insert(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 8,
        Backend::Postgres => 500,
    }
}

fn columns(list: &str) -> Vec<&str> {
    list.split(',').map(str::trim).collect()
}

/// `col = $i` for every column but the key ones, numbered as the columns are.
fn assignments(list: &str, keys: &[&str]) -> String {
    columns(list)
        .iter()
        .enumerate()
        .filter(|(_, c)| !keys.contains(c))
        .map(|(i, c)| format!("{c} = ${}", i + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

static INSERT_CAMPAIGN: LazyLock<String> = LazyLock::new(|| {
    let n = columns(CAMPAIGN_COLUMNS).len();
    format!(
        "INSERT INTO campaigns ({CAMPAIGN_COLUMNS}) VALUES ({})",
        placeholders(n)
    )
});

static UPDATE_CAMPAIGN: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE campaigns SET {} WHERE id = $1",
        assignments(CAMPAIGN_COLUMNS, &["id"])
    )
});

/// Updates a contact over the version it was read at (the last placeholder).
static UPDATE_CONTACT: LazyLock<String> = LazyLock::new(|| {
    let n = columns(CONTACT_COLUMNS).len();
    format!(
        "UPDATE campaign_contacts SET {} WHERE campaign_id = $1 AND position = $2 AND version = ${}",
        assignments(CONTACT_COLUMNS, &["campaign_id", "position"]),
        n + 1
    )
});

/// An insert of `rows` contacts.
fn insert_contacts_sql(rows: usize) -> String {
    let n = columns(CONTACT_COLUMNS).len();
    let values = (0..rows)
        .map(|r| {
            let row = (1..=n)
                .map(|i| format!("${}", r * n + i))
                .collect::<Vec<_>>()
                .join(", ");
            format!("({row})")
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!("INSERT INTO campaign_contacts ({CONTACT_COLUMNS}) VALUES {values}")
}

async fn insert_contacts(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    contacts: &[Contact],
) -> Result<(), StoreError> {
    for chunk in contacts.chunks(contacts_per_insert(backend)) {
        let sql = insert_contacts_sql(chunk.len());
        let mut query = sqlx::query(&sql);
        for contact in chunk {
            query = campaign_rows::bind_contact(query, contact)?;
        }
        query
            .execute(&mut **tx)
            .await
            .map_err(|e| error(format!("inserting {} contacts", chunk.len()), e))?;
    }
    Ok(())
}

async fn update_campaign(
    tx: &mut Transaction<'_, Any>,
    campaign: &Campaign,
) -> Result<(), StoreError> {
    campaign_rows::bind_campaign(sqlx::query(&UPDATE_CAMPAIGN), campaign)?
        .execute(&mut **tx)
        .await
        .map_err(|e| error(format!("updating campaign {}", campaign.id), e))?;
    Ok(())
}

impl SqlStore {
    async fn campaign_tx(&self, what: &str) -> Result<Transaction<'static, Any>, StoreError> {
        self.pool.begin().await.map_err(|e| error(what, e))
    }

    async fn contacts_where(
        &self,
        campaign: CampaignId,
        condition: &str,
        limit: Option<(u32, u32)>,
    ) -> Result<Vec<Contact>, StoreError> {
        let page = if limit.is_some() {
            " AND position >= $2 ORDER BY position LIMIT $3"
        } else {
            " ORDER BY position"
        };
        let sql = format!(
            "SELECT {CONTACT_COLUMNS} FROM campaign_contacts WHERE campaign_id = $1{condition}{page}"
        );
        let mut query = sqlx::query(&sql).bind(campaign.to_string());
        if let Some((from, n)) = limit {
            query = query.bind(i64::from(from)).bind(i64::from(n));
        }
        query
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error(format!("reading contacts of campaign {campaign}"), e))?
            .iter()
            .map(campaign_rows::contact)
            .collect()
    }
}

#[async_trait]
impl CampaignStore for SqlStore {
    async fn insert_campaign(
        &self,
        campaign: &Campaign,
        contacts: &[Contact],
    ) -> Result<(), StoreError> {
        let what = format!("inserting campaign {}", campaign.id);
        let mut tx = self.campaign_tx(&what).await?;
        campaign_rows::bind_campaign(sqlx::query(&INSERT_CAMPAIGN), campaign)?
            .execute(&mut *tx)
            .await
            .map_err(|e| error(&what, e))?;
        insert_contacts(&mut tx, self.backend, contacts).await?;
        tx.commit().await.map_err(|e| error(&what, e))
    }

    async fn load_campaign(&self, id: CampaignId) -> Result<Option<Campaign>, StoreError> {
        let sql = format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| error(format!("reading campaign {id}"), e))?;
        row.as_ref().map(campaign_rows::campaign).transpose()
    }

    async fn active_campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        let sql = format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM campaigns \
             WHERE status IN ('running', 'paused', 'scheduled') ORDER BY id"
        );
        sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error("listing active campaigns", e))?
            .iter()
            .map(campaign_rows::campaign)
            .collect()
    }

    async fn save_campaign(&self, campaign: &Campaign) -> Result<(), StoreError> {
        let what = format!("saving campaign {}", campaign.id);
        let mut tx = self.campaign_tx(&what).await?;
        update_campaign(&mut tx, campaign).await?;
        tx.commit().await.map_err(|e| error(&what, e))
    }

    async fn append_contacts(
        &self,
        campaign: &Campaign,
        contacts: &[Contact],
    ) -> Result<(), StoreError> {
        let what = format!("appending contacts to campaign {}", campaign.id);
        let mut tx = self.campaign_tx(&what).await?;
        insert_contacts(&mut tx, self.backend, contacts).await?;
        update_campaign(&mut tx, campaign).await?;
        tx.commit().await.map_err(|e| error(&what, e))
    }

    async fn contacts_from(
        &self,
        campaign: CampaignId,
        from: u32,
        limit: u32,
    ) -> Result<Vec<Contact>, StoreError> {
        self.contacts_where(campaign, "", Some((from, limit))).await
    }

    async fn open_contacts(&self, campaign: CampaignId) -> Result<Vec<Contact>, StoreError> {
        self.contacts_where(campaign, " AND state IN ('waiting', 'dialing')", None)
            .await
    }

    async fn commit_step(&self, step: &CampaignStep<'_>) -> Result<bool, StoreError> {
        let what = format!("writing a step of campaign {}", step.campaign.id);
        let mut tx = self.campaign_tx(&what).await?;
        for change in step.contacts {
            let query = campaign_rows::bind_contact(sqlx::query(&UPDATE_CONTACT), &change.contact)?;
            let result = query
                .bind(i64::from(change.from_version))
                .execute(&mut *tx)
                .await
                .map_err(|e| error(&what, e))?;
            if result.rows_affected() != 1 {
                return Ok(false); // dropping `tx` rolls the step back
            }
        }
        if let Some((call, events)) = step.call {
            insert_new_call(&mut tx, call, events).await?;
        }
        update_campaign(&mut tx, step.campaign).await?;
        tx.commit().await.map_err(|e| error(&what, e))?;
        Ok(true)
    }

    async fn progress_inputs(
        &self,
        campaign: &Campaign,
        now: DateTime<Utc>,
    ) -> Result<EtaInputs, StoreError> {
        let id = campaign.id.to_string();
        let what = || format!("reading the progress of campaign {id}");
        let groups = sqlx::query(
            "SELECT state, outcome, CAST(CASE WHEN calls_made > 0 THEN 1 ELSE 0 END AS BIGINT) AS dialed, \
             CAST(COUNT(*) AS BIGINT) AS n FROM campaign_contacts WHERE campaign_id = $1 \
             GROUP BY state, outcome, CASE WHEN calls_made > 0 THEN 1 ELSE 0 END",
        )
        .bind(&id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| error(what(), e))?;
        let mut counts = OutcomeCounts::default();
        let mut contacts_dialed = 0;
        for row in &groups {
            let read = || -> Result<_, String> {
                let state: String = row.try_get("state").map_err(|e| e.to_string())?;
                let outcome: Option<String> = row.try_get("outcome").map_err(|e| e.to_string())?;
                let dialed: i64 = row.try_get("dialed").map_err(|e| e.to_string())?;
                let n: i64 = row.try_get("n").map_err(|e| e.to_string())?;
                let state: ContactState = state.parse()?;
                let outcome = outcome.map(|o| o.parse::<ContactOutcome>()).transpose()?;
                Ok((
                    state,
                    outcome,
                    dialed == 1,
                    u32::try_from(n).unwrap_or(u32::MAX),
                ))
            };
            let (state, outcome, dialed, n) = read().map_err(|e| error(what(), e))?;
            counts.add(state, dialed, outcome, n);
            if dialed {
                contacts_dialed += n;
            }
        }
        let last_retry: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(next_at) FROM campaign_contacts \
             WHERE campaign_id = $1 AND state = 'waiting' AND wait_reason = $2",
        )
        .bind(&id)
        .bind(WaitReason::Retry.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| error(what(), e))?;
        let mut recent: Vec<i64> = sqlx::query_scalar(
            "SELECT created_at FROM calls WHERE campaign_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(&id)
        .bind(RECENT_DIALS as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| error(what(), e))?;
        recent.reverse();
        let talk = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n, \
             CAST(COALESCE(SUM(ended_at - dial_started_at), 0) AS BIGINT) AS total \
             FROM calls WHERE campaign_id = $1 AND ended_at IS NOT NULL \
             AND dial_started_at IS NOT NULL",
        )
        .bind(&id)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| error(what(), e))?;
        let finished: i64 = talk.try_get("n").map_err(|e| error(what(), e))?;
        let total_ms: i64 = talk.try_get("total").map_err(|e| error(what(), e))?;
        let zone_names: Vec<Option<String>> = sqlx::query_scalar(
            "SELECT DISTINCT timezone FROM campaign_contacts \
             WHERE campaign_id = $1 AND state IN ('pending', 'waiting')",
        )
        .bind(&id)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| error(what(), e))?;
        let mut zones = Vec::with_capacity(zone_names.len());
        for name in zone_names {
            let zone = match name {
                Some(name) => name.parse().map_err(|e| error(what(), e))?,
                None => campaign.timezone,
            };
            if !zones.contains(&zone) {
                zones.push(zone);
            }
        }
        Ok(EtaInputs {
            now,
            counts,
            dials: campaign.dials,
            contacts_dialed,
            recent_dials: recent
                .into_iter()
                .filter_map(DateTime::from_timestamp_millis)
                .collect(),
            mean_call_seconds: (finished > 0).then(|| total_ms as f64 / finished as f64 / 1000.0),
            last_retry_at: last_retry.and_then(DateTime::from_timestamp_millis),
            zones,
        })
    }
}

/// Which campaigns [`SqlStore::list_campaigns`] returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CampaignFilter {
    pub client_id: Option<callvisor_actors::domain::ClientId>,
    pub status: Option<CampaignStatus>,
    /// The cursor: only campaigns older than this one.
    pub after: Option<CampaignId>,
    pub limit: u32,
}

/// Failures of a campaign's contacts and calls, by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailureCounts {
    /// Contacts that ended failed, by their last failure reason.
    pub contacts: Vec<(String, u32)>,
    /// Contacts waiting for a retry, by the reason of their last failure.
    pub retrying: Vec<(String, u32)>,
    /// Calls that ended without a conversation, by reason.
    pub calls: Vec<(String, u32)>,
}

impl SqlStore {
    /// Campaigns matching `filter`, newest first.
    pub async fn list_campaigns(
        &self,
        filter: &CampaignFilter,
    ) -> Result<Vec<Campaign>, StoreError> {
        let mut conditions = Vec::new();
        let mut values = Vec::new();
        if let Some(client) = filter.client_id {
            values.push(client.to_string());
            conditions.push(format!("client_id = ${}", values.len()));
        }
        if let Some(status) = filter.status {
            values.push(status.as_str().to_string());
            conditions.push(format!("status = ${}", values.len()));
        }
        if let Some(after) = filter.after {
            values.push(after.to_string());
            conditions.push(format!("id < ${}", values.len()));
        }
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM campaigns{where_clause} ORDER BY id DESC LIMIT ${}",
            values.len() + 1
        );
        let mut query = sqlx::query(&sql);
        for value in values {
            query = query.bind(value);
        }
        query
            .bind(i64::from(filter.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error("listing campaigns", e))?
            .iter()
            .map(campaign_rows::campaign)
            .collect()
    }

    /// A campaign's contacts from `from` on, at most `limit`.
    pub async fn campaign_contacts(
        &self,
        campaign: CampaignId,
        from: u32,
        limit: u32,
    ) -> Result<Vec<Contact>, StoreError> {
        self.contacts_where(campaign, "", Some((from, limit))).await
    }

    /// A campaign's failures grouped by reason.
    pub async fn campaign_failures(
        &self,
        campaign: CampaignId,
    ) -> Result<FailureCounts, StoreError> {
        let id = campaign.to_string();
        let grouped = |sql: &'static str| {
            let id = id.clone();
            async move {
                let rows = sqlx::query(sql)
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| {
                        error(format!("reading the failures of campaign {campaign}"), e)
                    })?;
                rows.iter()
                    .map(|row| {
                        let reason: Option<String> =
                            row.try_get("reason").map_err(|e| error("reason", e))?;
                        let n: i64 = row.try_get("n").map_err(|e| error("count", e))?;
                        Ok((
                            reason.unwrap_or_else(|| "unknown".into()),
                            u32::try_from(n).unwrap_or(u32::MAX),
                        ))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()
            }
        };
        Ok(FailureCounts {
            contacts: grouped(
                "SELECT failure_reason AS reason, CAST(COUNT(*) AS BIGINT) AS n FROM campaign_contacts \
                 WHERE campaign_id = $1 AND outcome = 'failed' GROUP BY failure_reason ORDER BY n DESC",
            )
            .await?,
            retrying: grouped(
                "SELECT failure_reason AS reason, CAST(COUNT(*) AS BIGINT) AS n FROM campaign_contacts \
                 WHERE campaign_id = $1 AND state = 'waiting' AND wait_reason = 'retry' \
                 GROUP BY failure_reason ORDER BY n DESC",
            )
            .await?,
            calls: grouped(
                "SELECT failure_reason AS reason, CAST(COUNT(*) AS BIGINT) AS n FROM calls \
                 WHERE campaign_id = $1 AND failure_reason IS NOT NULL \
                 GROUP BY failure_reason ORDER BY n DESC",
            )
            .await?,
        })
    }

    /// How many campaigns are in each status.
    pub async fn campaigns_by_status(&self) -> Result<Vec<(CampaignStatus, u32)>, StoreError> {
        let rows = sqlx::query(
            "SELECT status, CAST(COUNT(*) AS BIGINT) AS n FROM campaigns GROUP BY status",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| error("counting campaigns by status", e))?;
        rows.iter()
            .map(|row| {
                let status: String = row.try_get("status").map_err(|e| error("status", e))?;
                let n: i64 = row.try_get("n").map_err(|e| error("count", e))?;
                let status = status.parse().map_err(|e| error("status", e))?;
                Ok((status, u32::try_from(n).unwrap_or(u32::MAX)))
            })
            .collect()
    }
}
