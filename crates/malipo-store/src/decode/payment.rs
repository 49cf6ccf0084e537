//! Payments.

use malipo_core::{AccountName, Currency, Money, Msisdn, PaymentState};

use super::{corrupt, Columns};
use crate::convert as rows;
use crate::{CheckSchedule, PaymentRecord, SettledBy, StoreError};

/// The columns [`payment`] decodes, in order.
pub(crate) const COLUMNS: &str = "id, provider, kind, state, amount_minor, currency, msisdn, email, \
     merchant_reference, provider_reference, description, metadata, receipt, result_code, \
     result_desc, created_at, updated_at, settled_by, parent_id, next_check_at, check_attempts, \
     check_note, check_held, provider_request_id, refunded_minor, account";

/// Decodes the [`COLUMNS`] starting at column 0.
pub(crate) fn payment(row: &impl Columns) -> Result<PaymentRecord, StoreError> {
    const OP: &str = "reading a payment";
    let id = row.text(0, OP)?;
    let provider = row.text(1, OP)?;
    let state = row.int(3, OP)?;
    let minor = row.int(4, OP)?;
    let currency = row.text(5, OP)?;
    let msisdn = row.opt_text(6, OP)?;
    let metadata = row.opt_text(11, OP)?;
    let refunded = row.int(24, OP)?;
    let account = row.opt_text(25, OP)?;
    let currency = currency
        .parse::<Currency>()
        .map_err(|e| corrupt("payments.currency", e.to_string()))?;
    Ok(PaymentRecord {
        id: rows::id(&id, "payments.id")?,
        provider: rows::provider(&provider)?,
        kind: row.text(2, OP)?,
        state: PaymentState::from_code(state)
            .ok_or_else(|| corrupt("payments.state", format!("unknown state code {state}")))?,
        amount: Money::from_minor(
            u64::try_from(minor)
                .map_err(|_| corrupt("payments.amount_minor", format!("{minor} is negative")))?,
            currency,
        ),
        provider_request_id: row.opt_text(23, OP)?,
        // The default account is stored as NULL, as rows written before accounts existed are.
        account: match account {
            None => AccountName::default_account(),
            Some(name) => name
                .parse()
                .map_err(|e: malipo_core::AccountNameError| corrupt("payments.account", e.to_string()))?,
        },
        refunded: Money::from_minor(
            u64::try_from(refunded)
                .map_err(|_| corrupt("payments.refunded_minor", format!("{refunded} is negative")))?,
            currency,
        ),
        msisdn: msisdn
            .map(|m| m.parse::<Msisdn>())
            .transpose()
            .map_err(|e| corrupt("payments.msisdn", e.to_string()))?,
        email: row.opt_text(7, OP)?,
        merchant_reference: row.opt_text(8, OP)?,
        provider_reference: row.opt_text(9, OP)?,
        description: row.opt_text(10, OP)?,
        metadata: metadata
            .map(|m| serde_json::from_str(&m))
            .transpose()
            .map_err(|e| corrupt("payments.metadata", e.to_string()))?,
        receipt: row.opt_text(12, OP)?,
        result_code: row.opt_text(13, OP)?,
        result_desc: row.opt_text(14, OP)?,
        created_at: rows::from_ms(row.int(15, OP)?, "payments.created_at")?,
        updated_at: rows::from_ms(row.int(16, OP)?, "payments.updated_at")?,
        settled_by: row
            .opt_text(17, OP)?
            .map(|s| s.parse::<SettledBy>())
            .transpose()
            .map_err(|e| corrupt("payments.settled_by", e))?,
        parent_id: rows::opt_id(row.opt_text(18, OP)?, "payments.parent_id")?,
        check: CheckSchedule {
            next_at: row
                .opt_int(19, OP)?
                .map(|ms| rows::from_ms(ms, "payments.next_check_at"))
                .transpose()?,
            attempts: rows::count(row.int(20, OP)?),
            note: row.opt_text(21, OP)?,
            held: row.boolean(22, OP)?,
        },
    })
}
