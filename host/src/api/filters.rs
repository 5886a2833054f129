//! The `filter` query parameter, checked the same way wherever it is taken
//! (`/objects`, `/count`): a caller's malformed filter is their 400, naming
//! the parameter and what is wrong, never the connector's failure (502).

use super::problem::ApiError;

/// `filter` if it is absent or a filter that parses; a 400 otherwise.
pub fn checked(filter: Option<&str>) -> Result<(), ApiError> {
    let Some(filter) = filter else {
        return Ok(());
    };
    if filter.trim().is_empty() {
        return Err(ApiError::bad_request(
            "the filter is empty: leave `filter` out to match every object",
        )
        .field("filter"));
    }
    provisio_filter::parse(filter).map_err(|e| {
        ApiError::bad_request(format!("the filter is not valid: {e}")).field("filter")
    })?;
    Ok(())
}
