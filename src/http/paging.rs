//! Keyset paging of the list endpoints: a `limit` checked against the endpoint's
//! bounds, one row more than the page asked of storage, and the last row's key handed
//! out as the next page's `cursor` only when that extra row shows there is more.

use super::error::ApiError;

/// The page size a request asked for (`default` when it did not), checked against
/// `1..=max` with the field named.
pub fn page_limit(requested: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    let limit = requested.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::invalid_field(
            "limit",
            format!("must be 1 to {max}"),
        ))
    }
}

/// Cuts `rows` (fetched with `limit + 1`) to the page, and gives the cursor of the next
/// page, the key of the page's last row, when there is one.
pub fn split_page<T>(
    mut rows: Vec<T>,
    limit: u32,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        let next = rows.last().map(key);
        (rows, next)
    } else {
        (rows, None)
    }
}
