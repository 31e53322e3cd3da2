//! Clients and their agents.
//!
//! Agents are deleted softly: the row stays, with `deleted_at` set, because calls keep
//! referring to the agent that made them. A deleted agent is invisible here: it cannot
//! be read, listed, updated or deleted again.

use super::rows::{self, AGENT_COLUMNS, CLIENT_COLUMNS};
use super::{error, touched, SqlStore, StoreError};
use callvisor_actors::domain::{Agent, AgentId, Client, ClientId, PhoneNumber};
use chrono::{DateTime, Utc};

impl SqlStore {
    /// Adds a client. Fails if the id is taken.
    pub async fn insert_client(&self, c: &Client) -> Result<(), StoreError> {
        let sql = format!("INSERT INTO clients ({CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)");
        rows::bind_client(sqlx::query(&sql), c)
            .execute(&self.pool)
            .await
            .map_err(|e| error(format!("inserting client {}", c.id), e))?;
        Ok(())
    }

    /// The client with this id, if any.
    pub async fn get_client(&self, id: ClientId) -> Result<Option<Client>, StoreError> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| error(format!("reading client {id}"), e))?;
        row.as_ref().map(rows::client).transpose()
    }

    /// Replaces the client's name, concurrency limit, time zone and `updated_at`.
    /// Fails if there is no such client.
    pub async fn update_client(&self, c: &Client) -> Result<(), StoreError> {
        let context = || format!("updating client {}", c.id);
        let result = sqlx::query(
            "UPDATE clients SET name = $2, max_concurrent_calls = $3, timezone = $4, \
             updated_at = $5 WHERE id = $1",
        )
        .bind(c.id.to_string())
        .bind(c.name.as_str())
        .bind(i64::from(c.max_concurrent_calls))
        .bind(c.timezone.as_str())
        .bind(rows::millis(c.updated_at))
        .execute(&self.pool)
        .await
        .map_err(|e| error(context(), e))?;
        if touched(&result) {
            Ok(())
        } else {
            Err(error(context(), "no such client"))
        }
    }

    /// Every client, oldest first.
    pub async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients ORDER BY id");
        sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error("listing clients", e))?
            .iter()
            .map(rows::client)
            .collect()
    }

    /// Adds an agent. Fails if the id is taken or the client does not exist.
    pub async fn insert_agent(&self, a: &Agent) -> Result<(), StoreError> {
        let sql =
            format!("INSERT INTO agents ({AGENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
        rows::bind_agent(sqlx::query(&sql), a)
            .execute(&self.pool)
            .await
            .map_err(|e| error(format!("inserting agent {}", a.id), e))?;
        Ok(())
    }

    /// The agent with this id, unless it does not exist or was deleted.
    pub async fn get_agent(&self, id: AgentId) -> Result<Option<Agent>, StoreError> {
        let sql =
            format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1 AND deleted_at IS NULL");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| error(format!("reading agent {id}"), e))?;
        row.as_ref().map(rows::agent).transpose()
    }

    /// The agents not deleted, oldest first: every client's, or only `client`'s.
    pub async fn list_agents(&self, client: Option<ClientId>) -> Result<Vec<Agent>, StoreError> {
        let rows = match client {
            Some(client) => {
                let sql = format!(
                    "SELECT {AGENT_COLUMNS} FROM agents \
                     WHERE client_id = $1 AND deleted_at IS NULL ORDER BY id"
                );
                sqlx::query(&sql)
                    .bind(client.to_string())
                    .fetch_all(&self.pool)
                    .await
            }
            None => {
                let sql = format!(
                    "SELECT {AGENT_COLUMNS} FROM agents WHERE deleted_at IS NULL ORDER BY id"
                );
                sqlx::query(&sql).fetch_all(&self.pool).await
            }
        };
        rows.map_err(|e| error("listing agents", e))?
            .iter()
            .map(rows::agent)
            .collect()
    }

    /// Replaces the agent's name, URLs, caller id and `updated_at`; an agent never
    /// changes client. Fails if there is no such agent or it was deleted.
    pub async fn update_agent(&self, a: &Agent) -> Result<(), StoreError> {
        let context = || format!("updating agent {}", a.id);
        let result = sqlx::query(
            "UPDATE agents SET name = $2, answer_url = $3, warmup_url = $4, caller_id = $5, \
             updated_at = $6 WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(a.id.to_string())
        .bind(a.name.as_str())
        .bind(a.answer_url.as_str())
        .bind(a.warmup_url.as_deref())
        .bind(a.caller_id.as_ref().map(PhoneNumber::as_str))
        .bind(rows::millis(a.updated_at))
        .execute(&self.pool)
        .await
        .map_err(|e| error(context(), e))?;
        if touched(&result) {
            Ok(())
        } else {
            Err(error(context(), "no such agent"))
        }
    }

    /// Marks the agent deleted as of `at`. Returns `false` when there was no agent to
    /// delete (unknown id, or already deleted).
    pub async fn delete_agent(&self, id: AgentId, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE agents SET deleted_at = $2, updated_at = $2 \
             WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(id.to_string())
        .bind(rows::millis(at))
        .execute(&self.pool)
        .await
        .map_err(|e| error(format!("deleting agent {id}"), e))?;
        Ok(touched(&result))
    }
}
