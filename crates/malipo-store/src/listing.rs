//! The listings behind `list_payments`, `list_events` and `list_deliveries`, built once for both
//! adapters: a filter's conditions over one table, newest id first, one page. Our own constants
//! (provider names, status codes) go into the SQL text so the planner can use the partial
//! indexes; anything from outside is bound. What differs by dialect (how a parameter is written,
//! the expression an index is on) is the adapter's [`Dialect`]; the adapter runs the query.

use malipo_core::{EventId, Provider};

use crate::convert::{page, to_ms};
use crate::{DeliveryFilter, EventFilter, PaymentFilter};

/// A bound value of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
}

/// What an adapter's SQL spells its own way.
pub(crate) trait Dialect {
    /// The `n`th bound parameter (from 1): `?n` in SQLite, `$n` in PostgreSQL.
    fn placeholder(n: usize) -> String;
    /// The last four characters of `column`, written exactly as the schema's index on them is.
    fn last_four(column: &str) -> String;
}

/// A listing under construction.
pub(crate) struct Listing {
    sql: String,
    args: Vec<Arg>,
    placeholder: fn(usize) -> String,
}

impl Listing {
    fn select<D: Dialect>(columns: &str, table: &str) -> Self {
        Listing {
            sql: format!("SELECT {columns} FROM {table} WHERE 1 = 1"),
            args: Vec::new(),
            placeholder: D::placeholder,
        }
    }

    /// Adds a condition written from our own constants, such as `status = 2`.
    fn constant(&mut self, condition: std::fmt::Arguments<'_>) {
        self.sql.push_str(&format!(" AND {condition}"));
    }

    /// Binds `value` as the next parameter and returns how it is written.
    fn bind(&mut self, value: Arg) -> String {
        self.args.push(value);
        (self.placeholder)(self.args.len())
    }

    /// Adds `column_op <parameter>` with `value` bound, such as `("id <", before)`.
    fn bound(&mut self, column_op: &str, value: Arg) {
        let p = self.bind(value);
        self.sql.push_str(&format!(" AND {column_op} {p}"));
    }

    /// Adds a parenthesised condition whose `?`s take `values` in order.
    fn bound_group(&mut self, condition: &str, values: Vec<Arg>) {
        debug_assert_eq!(condition.matches('?').count(), values.len());
        let mut values = values.into_iter();
        let mut sql = String::with_capacity(condition.len() + 8);
        for (i, piece) in condition.split('?').enumerate() {
            if i > 0 {
                if let Some(v) = values.next() {
                    let p = self.bind(v);
                    sql.push_str(&p);
                }
            }
            sql.push_str(piece);
        }
        self.sql.push_str(&format!(" AND {sql}"));
    }

    /// The query for at most `limit` rows (capped at the largest page), newest first, and its
    /// arguments in order.
    pub(crate) fn page(mut self, limit: usize) -> (String, Vec<Arg>) {
        let p = self.bind(Arg::Int(page(limit)));
        self.sql.push_str(&format!(" ORDER BY id DESC LIMIT {p}"));
        (self.sql, self.args)
    }
}

/// Payments matching `filter`.
pub(crate) fn payments<D: Dialect>(filter: &PaymentFilter) -> Listing {
    let mut q = Listing::select::<D>(crate::decode::payment::COLUMNS, "payments");
    if let Some(p) = filter.provider {
        q.constant(format_args!("provider = '{}'", p.as_str()));
    }
    if let Some(s) = filter.state {
        q.constant(format_args!("state = {}", s.code()));
    }
    if let Some(r) = &filter.merchant_reference {
        q.bound("merchant_reference =", Arg::Text(r.clone()));
    }
    if let Some(before) = filter.before {
        q.bound("id <", Arg::Text(before.to_string()));
    }
    if let Some(since) = filter.since {
        q.bound("created_at >=", Arg::Int(to_ms(since)));
    }
    if let Some(account) = &filter.account {
        // The default account is stored as NULL (rows from before accounts existed are too).
        if account.is_default() {
            q.constant(format_args!("account IS NULL"));
        } else {
            q.bound("account =", Arg::Text(account.to_string()));
        }
    }
    if let Some(text) = filter.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let exact = || Arg::Text(text.to_string());
        // Naming every provider lets the planner use the unique (provider, provider_reference)
        // index, so that lookup needs no index of its own for every payment insert to keep.
        let references = format!(
            "merchant_reference = ? OR (provider IN ('{}', '{}') AND provider_reference = ?) OR receipt = ?",
            Provider::Mpesa.as_str(),
            Provider::Paystack.as_str()
        );
        if text.len() >= 4 && text.bytes().all(|b| b.is_ascii_digit()) {
            // Digits may also be the end of the payer's number (what a customer reads out):
            // the index on the last four finds the candidates, LIKE checks the rest.
            let last4 = text[text.len() - 4..].to_string();
            q.bound_group(
                &format!(
                    "({references} OR ({} = ? AND msisdn IS NOT NULL AND msisdn LIKE ?))",
                    D::last_four("msisdn")
                ),
                vec![
                    exact(),
                    exact(),
                    exact(),
                    Arg::Text(last4),
                    Arg::Text(format!("%{text}")),
                ],
            );
        } else {
            q.bound_group(&format!("({references})"), vec![exact(), exact(), exact()]);
        }
    }
    q
}

/// Events matching `filter`, as the adapter's summary `columns`.
pub(crate) fn events<D: Dialect>(columns: &str, filter: &EventFilter) -> Listing {
    let mut q = Listing::select::<D>(columns, "events");
    if let Some(p) = filter.provider {
        q.constant(format_args!("provider = '{}'", p.as_str()));
    }
    if let Some(s) = filter.status {
        q.constant(format_args!("status = {}", s.code()));
        // Spelled out so the planner sees that the partial index on events needing attention
        // applies: otherwise a rare status is looked for by walking every event newest first.
        if s.code() >= 2 {
            q.constant(format_args!("status >= 2"));
        }
    }
    // Ids start with their creation time, so a time bound is a range on the id index.
    if let Some(since) = filter.since {
        let millis = u128::try_from(to_ms(since)).unwrap_or(0);
        q.bound("id >=", Arg::Text(EventId::from_parts(millis, 0).to_string()));
    }
    if let Some(before) = filter.before {
        q.bound("id <", Arg::Text(before.to_string()));
    }
    if let Some(payment) = filter.payment_id {
        q.bound("payment_id =", Arg::Text(payment.to_string()));
    }
    q
}

/// Deliveries matching `filter`.
pub(crate) fn deliveries<D: Dialect>(filter: &DeliveryFilter) -> Listing {
    let mut q = Listing::select::<D>(crate::decode::delivery::COLUMNS, "deliveries");
    if let Some(s) = filter.status {
        q.constant(format_args!("status = {}", s.code()));
    }
    if let Some(p) = filter.payment_id {
        q.bound("payment_id =", Arg::Text(p.to_string()));
    }
    if let Some(endpoint) = filter.endpoint_id {
        q.bound("endpoint_id =", Arg::Text(endpoint.to_string()));
    }
    if let Some(before) = filter.before {
        q.bound("id <", Arg::Text(before.to_string()));
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Numbered;
    impl Dialect for Numbered {
        fn placeholder(n: usize) -> String {
            format!("${n}")
        }
        fn last_four(column: &str) -> String {
            format!("right({column}, 4)")
        }
    }

    #[test]
    fn conditions_are_numbered_in_order_and_the_page_comes_last() {
        let filter = PaymentFilter {
            search: Some(" 0712345678 ".into()),
            limit: 5_000,
            ..PaymentFilter::default()
        };
        let (sql, args) = payments::<Numbered>(&filter).page(filter.limit);
        assert!(sql.ends_with(
            "AND (merchant_reference = $1 OR (provider IN ('mpesa', 'paystack') AND provider_reference = $2) \
             OR receipt = $3 OR (right(msisdn, 4) = $4 AND msisdn IS NOT NULL AND msisdn LIKE $5)) \
             ORDER BY id DESC LIMIT $6"
        ), "{sql}");
        assert_eq!(args[3], Arg::Text("5678".into()));
        assert_eq!(args[4], Arg::Text("%0712345678".into()));
        assert_eq!(args[5], Arg::Int(1_000));
    }
}
