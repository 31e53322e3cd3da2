//! Appending contacts to a campaign: `POST /api/v1/campaigns/{id}/contacts` with a JSON
//! body (`{"contacts": [...]}`) or a CSV upload (`Content-Type: text/csv`), and reading
//! them back page by page.
//!
//! Each contact is checked on its own: the valid ones are appended, the others reported
//! with their index (JSON) or line number (CSV) and the field at fault. A CSV upload is
//! streamed: the body is parsed as it arrives, on a blocking thread, and appended in
//! batches, so a 100,000-row file never sits in memory whole. Its header row names the
//! columns: `phoneNumber` (or `phone_number`, `phone`), optional `name` and `timezone`;
//! every other column becomes a variable of the contact.

use super::request::{contact, AppendContacts, ContactFields, MAX_JSON_CONTACTS};
use super::view::ContactView;
use super::{ask_campaigns, visible_campaign};
use crate::http::auth::{Principal, Role};
use crate::http::error::{ok, ApiError, ApiResult};
use crate::http::extract::{json_rejection, ApiQuery, JSON_BODY_LIMIT};
use crate::http::paging::page_limit;
use crate::http::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::HeaderMap;
use callvisor_actors::campaigns::CampaignSupervisorMsg;
use callvisor_actors::domain::campaign::{Campaign, NewContact};
use callvisor_actors::domain::CampaignId;
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::io::Read;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::io::{StreamReader, SyncIoBridge};
use utoipa::ToSchema;

/// Largest contact upload, in bytes.
pub const CSV_BODY_LIMIT: u64 = 50 * 1024 * 1024;
/// Contacts appended per batch while a CSV streams in.
const BATCH: usize = 1000;
/// Most refused rows listed one by one (all are counted).
const MAX_LISTED_ERRORS: usize = 1000;
const APPEND_TIMEOUT: Duration = Duration::from_secs(60);

/// Why one contact was refused.
#[derive(Serialize, ToSchema, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ContactError {
    /// Position in the JSON array, from 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
    /// Line of the CSV file, from 1 (the header is line 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

/// What an upload did.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Imported {
    /// Contacts appended.
    imported: u64,
    /// Contacts refused.
    rejected: u64,
    /// Contacts of the campaign after the upload.
    total_contacts: u32,
    /// The refused contacts (the first 1000), with why.
    errors: Vec<ContactError>,
}

/// A tally of refusals, listing the first ones.
#[derive(Default)]
struct Refusals {
    count: u64,
    listed: Vec<ContactError>,
}

impl Refusals {
    fn add(&mut self, index: Option<usize>, line: Option<u64>, e: ApiError) {
        self.count += 1;
        if self.listed.len() < MAX_LISTED_ERRORS {
            let field = e
                .details
                .as_ref()
                .and_then(|d| d.get("field"))
                .and_then(Value::as_str)
                .map(str::to_string);
            self.listed.push(ContactError {
                index,
                line,
                code: e.code,
                message: e.message,
                field,
            });
        }
    }
}

#[utoipa::path(post, path = "/api/v1/campaigns/{id}/contacts", tag = "campaigns",
    request_body(content = AppendContacts, description = "JSON, or text/csv with a header row (phoneNumber, name, timezone, any variables)"),
    responses(
        (status = 200, body = Imported, description = "valid contacts appended; refused ones listed"),
        (status = 400, description = "VALIDATION_ERROR: no valid contact, a bad header, or an unreadable body"),
        (status = 409, description = "INVALID_STATE: the campaign is over"),
        (status = 413, description = "PAYLOAD_TOO_LARGE")))]
pub async fn append(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let campaign = visible_campaign(&state, &principal, &id).await?;
    principal.require(Role::Manager)?;
    if campaign.status.is_final() {
        return Err(super::campaign_error(
            callvisor_actors::campaigns::CampaignError::Closed(campaign.status),
        ));
    }
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let (refusals, imported, campaign) = if content_type.starts_with("text/csv") {
        let length = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if length.is_some_and(|n| n > CSV_BODY_LIMIT) {
            return Err(ApiError::payload_too_large(CSV_BODY_LIMIT as usize));
        }
        import_csv(&state, campaign, body).await?
    } else if content_type.starts_with("application/json") {
        import_json(&state, campaign, body).await?
    } else {
        return Err(ApiError::validation(
            "Content-Type must be application/json or text/csv",
        ));
    };
    if imported == 0 && refusals.count > 0 {
        return Err(ApiError::validation(format!(
            "no contact was valid ({} refused)",
            refusals.count
        ))
        .with_details(serde_json::json!({ "errors": refusals.listed })));
    }
    Ok(ok(Imported {
        imported,
        rejected: refusals.count,
        total_contacts: campaign.total_contacts,
        errors: refusals.listed,
    }))
}

/// Appends a batch through the campaign's actor (or its supervisor).
async fn append_batch(
    state: &AppState,
    id: CampaignId,
    contacts: Vec<NewContact>,
) -> Result<Campaign, ApiError> {
    ask_campaigns(state, APPEND_TIMEOUT, |tx| {
        CampaignSupervisorMsg::Append(id, contacts, tx)
    })
    .await
}

async fn import_json(
    state: &AppState,
    campaign: Campaign,
    body: Body,
) -> Result<(Refusals, u64, Campaign), ApiError> {
    let bytes = axum::body::to_bytes(body, JSON_BODY_LIMIT)
        .await
        .map_err(|_| ApiError::payload_too_large(JSON_BODY_LIMIT))?;
    let axum::Json(request) =
        axum::Json::<AppendContacts>::from_bytes(&bytes).map_err(json_rejection)?;
    if request.contacts.len() > MAX_JSON_CONTACTS {
        return Err(ApiError::invalid_field(
            "contacts",
            format!("at most {MAX_JSON_CONTACTS} in one request; upload CSV for more"),
        ));
    }
    let mut refusals = Refusals::default();
    let mut valid = Vec::new();
    for (i, body) in request.contacts.into_iter().enumerate() {
        match body.into_contact(&format!("contacts[{i}]")) {
            Ok(c) => valid.push(c),
            Err(e) => refusals.add(Some(i), None, e),
        }
    }
    let imported = valid.len() as u64;
    let campaign = if valid.is_empty() {
        campaign
    } else {
        append_batch(state, campaign.id, valid).await?
    };
    Ok((refusals, imported, campaign))
}

/// What the CSV parser hands over: a batch of valid contacts and the rows it refused.
struct Parsed {
    contacts: Vec<NewContact>,
    refusals: Vec<(u64, ApiError)>,
}

/// Why a CSV upload stopped as a whole.
enum CsvFailure {
    Header(String),
    TooLarge,
    Unreadable(String),
}

async fn import_csv(
    state: &AppState,
    mut campaign: Campaign,
    body: Body,
) -> Result<(Refusals, u64, Campaign), ApiError> {
    let mut received = 0u64;
    let stream = body
        .into_data_stream()
        .map_err(std::io::Error::other)
        .and_then(move |chunk| {
            received += chunk.len() as u64;
            let result = if received > CSV_BODY_LIMIT {
                Err(std::io::Error::new(
                    std::io::ErrorKind::FileTooLarge,
                    "too large",
                ))
            } else {
                Ok(chunk)
            };
            std::future::ready(result)
        });
    let reader = SyncIoBridge::new(StreamReader::new(stream));
    let (tx, mut rx) = mpsc::channel::<Parsed>(2);
    let parser = tokio::task::spawn_blocking(move || parse_csv(reader, tx));
    let mut refusals = Refusals::default();
    let mut imported = 0;
    while let Some(batch) = rx.recv().await {
        for (line, e) in batch.refusals {
            refusals.add(None, Some(line), e);
        }
        if !batch.contacts.is_empty() {
            imported += batch.contacts.len() as u64;
            campaign = append_batch(state, campaign.id, batch.contacts).await?;
        }
    }
    let outcome = parser.await.map_err(ApiError::internal)?;
    match outcome {
        Ok(()) => Ok((refusals, imported, campaign)),
        Err(CsvFailure::Header(problem)) => Err(ApiError::validation(format!(
            "the CSV header row {problem}"
        ))),
        Err(CsvFailure::TooLarge) => Err(ApiError::payload_too_large(CSV_BODY_LIMIT as usize)
            .with_details(serde_json::json!({ "importedBeforeTheLimit": imported }))),
        Err(CsvFailure::Unreadable(e)) => Err(ApiError::validation(format!(
            "the CSV could not be read: {e}"
        ))
        .with_details(serde_json::json!({ "importedBeforeTheError": imported }))),
    }
}

/// The columns of a header row.
struct Columns {
    phone: usize,
    name: Option<usize>,
    timezone: Option<usize>,
    /// Every other column, by name: the contact's variables.
    variables: Vec<(usize, String)>,
    /// The contact's parts as the header names their columns (`phone`, `time_zone`).
    fields: ContactFields,
    count: usize,
}

impl Columns {
    fn of(header: &csv::StringRecord) -> Result<Self, String> {
        let find = |names: &[&str]| {
            header.iter().position(|h| {
                let h = h.trim();
                names.iter().any(|n| h.eq_ignore_ascii_case(n))
            })
        };
        let phone =
            find(&["phoneNumber", "phone_number", "phone"]).ok_or("needs a phoneNumber column")?;
        let name = find(&["name"]);
        let timezone = find(&["timezone", "time_zone"]);
        let column = |i: usize| header.get(i).map(|h| h.trim().to_string());
        let variables = header
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != phone && Some(*i) != name && Some(*i) != timezone)
            .map(|(i, h)| (i, h.trim().to_string()))
            .collect();
        Ok(Self {
            phone,
            name,
            timezone,
            variables,
            fields: ContactFields {
                phone: column(phone).unwrap_or_default(),
                name: name.and_then(column).unwrap_or_else(|| "name".into()),
                timezone: timezone
                    .and_then(column)
                    .unwrap_or_else(|| "timezone".into()),
                variables: "variables".into(),
            },
            count: header.len(),
        })
    }

    fn contact(&self, line: u64, row: &csv::StringRecord) -> Result<NewContact, ApiError> {
        if row.len() != self.count {
            return Err(ApiError::validation(format!(
                "line {line} has {} fields; the header has {}",
                row.len(),
                self.count
            )));
        }
        let variables: Map<String, Value> = self
            .variables
            .iter()
            .map(|(i, name)| (name.clone(), Value::String(row[*i].to_string())))
            .collect();
        // The field is the column as the header names it, and the message names the line.
        contact(
            &self.fields,
            &row[self.phone],
            self.name.map(|i| &row[i]),
            self.timezone.map(|i| &row[i]),
            Some(Value::Object(variables)),
        )
        .map_err(|mut e| {
            e.message = format!("line {line}: {}", e.message);
            e
        })
    }
}

/// Reads CSV rows as they arrive and hands them over in batches.
fn parse_csv(source: impl Read, tx: mpsc::Sender<Parsed>) -> Result<(), CsvFailure> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_reader(source);
    let header = reader.headers().map_err(failure)?.clone();
    let columns = Columns::of(&header).map_err(CsvFailure::Header)?;
    let mut batch = Parsed {
        contacts: Vec::with_capacity(BATCH),
        refusals: Vec::new(),
    };
    let mut row = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {
                let line = row.position().map_or(0, |p| p.line());
                match columns.contact(line, &row) {
                    Ok(c) => batch.contacts.push(c),
                    Err(e) => batch.refusals.push((line, e)),
                }
            }
            Err(e) if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) => {
                let line = e.position().map_or(0, |p| p.line());
                batch.refusals.push((
                    line,
                    ApiError::validation(format!("line {line} is not UTF-8")),
                ));
            }
            Err(e) => return Err(failure(e)),
        }
        if batch.contacts.len() + batch.refusals.len() >= BATCH {
            let full = std::mem::replace(
                &mut batch,
                Parsed {
                    contacts: Vec::with_capacity(BATCH),
                    refusals: Vec::new(),
                },
            );
            if tx.blocking_send(full).is_err() {
                return Ok(()); // the request is gone
            }
        }
    }
    let _ = tx.blocking_send(batch);
    Ok(())
}

fn failure(e: csv::Error) -> CsvFailure {
    match e.kind() {
        csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::FileTooLarge => {
            CsvFailure::TooLarge
        }
        _ => CsvFailure::Unreadable(e.to_string()),
    }
}

/// A page of contacts.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactQuery {
    /// First position to return (the `nextFrom` of the previous page).
    from: Option<u32>,
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/campaigns/{id}/contacts", tag = "campaigns",
    params(("from" = Option<u32>, Query, description = "first position, default 0"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "1..=500, default 100")),
    responses((status = 200, description = "contacts in list order, and nextFrom"), (status = 404, description = "CAMPAIGN_NOT_FOUND")))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ContactQuery>,
) -> ApiResult {
    let campaign = visible_campaign(&state, &principal, &id).await?;
    let limit = page_limit(q.limit, 100, 500)?;
    let from = q.from.unwrap_or(0);
    let contacts = state
        .store
        .campaign_contacts(campaign.id, from, limit)
        .await?;
    let next_from = (contacts.len() == limit as usize)
        .then(|| contacts.last().map(|c| c.position + 1))
        .flatten();
    let contacts: Vec<ContactView> = contacts.into_iter().map(ContactView::from).collect();
    Ok(ok(
        serde_json::json!({ "contacts": contacts, "nextFrom": next_from }),
    ))
}

#[cfg(test)]
mod tests {
    use super::Columns;

    #[test]
    fn a_refused_row_names_its_column_as_the_header_spells_it() {
        let header = csv::StringRecord::from(vec!["Phone", "name", "time_zone", "plan"]);
        let columns = Columns::of(&header).unwrap();
        let row = csv::StringRecord::from(vec!["+0123", "Ada", "UTC", "gold"]);
        let e = columns.contact(3, &row).unwrap_err();
        assert_eq!(e.code, "INVALID_PHONE_NUMBER");
        assert_eq!(e.details.unwrap()["field"], "Phone");
        assert!(e.message.starts_with("line 3: Phone "), "{}", e.message);

        let row = csv::StringRecord::from(vec!["+14155550101", "Ada", "Mars/Base", "gold"]);
        let e = columns.contact(4, &row).unwrap_err();
        assert_eq!(e.details.unwrap()["field"], "time_zone");
        assert!(e.message.starts_with("line 4: time_zone"), "{}", e.message);

        let row = csv::StringRecord::from(vec!["+14155550101", "Ada", "Europe/London", "gold"]);
        let contact = columns.contact(5, &row).unwrap();
        assert_eq!(contact.variables["plan"], "gold");
    }
}
