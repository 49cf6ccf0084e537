//! Merchant endpoints.

use malipo_core::Secret;

use super::Columns;
use crate::convert as rows;
use crate::{EndpointRecord, StoreError};

/// The columns [`endpoint`] decodes, in order.
pub(crate) const COLUMNS: &str = "id, name, url, secret, previous_secret, previous_secret_until, \
     event_types, enabled, allow_private, created_at, updated_at";

/// Decodes the [`COLUMNS`] starting at column 0.
pub(crate) fn endpoint(row: &impl Columns) -> Result<EndpointRecord, StoreError> {
    const OP: &str = "reading an endpoint";
    let id = row.text(0, OP)?;
    let until = row.opt_int(5, OP)?;
    let types = row.text(6, OP)?;
    Ok(EndpointRecord {
        id: rows::id(&id, "endpoints.id")?,
        name: row.text(1, OP)?,
        url: row.text(2, OP)?,
        secret: Secret::new(row.text(3, OP)?),
        previous_secret: row.opt_text(4, OP)?.map(Secret::new),
        previous_secret_until: until
            .map(|ms| rows::from_ms(ms, "endpoints.previous_secret_until"))
            .transpose()?,
        event_types: types.split_whitespace().map(str::to_owned).collect(),
        enabled: row.boolean(7, OP)?,
        allow_private: row.boolean(8, OP)?,
        created_at: rows::from_ms(row.int(9, OP)?, "endpoints.created_at")?,
        updated_at: rows::from_ms(row.int(10, OP)?, "endpoints.updated_at")?,
    })
}
