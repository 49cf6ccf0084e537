//! Resources the simulator keeps as the JSON Paystack renders them: customers, plans,
//! subscriptions, dedicated accounts. Each lives in a list per kind, oldest first, and is found by
//! its numeric `id` or one of its codes.

use std::collections::HashMap;

use serde_json::Value;

pub(crate) const CUSTOMER: &str = "customer";
pub(crate) const PLAN: &str = "plan";
pub(crate) const SUBSCRIPTION: &str = "subscription";
pub(crate) const DEDICATED_ACCOUNT: &str = "dedicated_account";
pub(crate) const SUBACCOUNT: &str = "subaccount";
pub(crate) const SPLIT: &str = "split";
pub(crate) const DISPUTE: &str = "dispute";
pub(crate) const EVIDENCE: &str = "evidence";
pub(crate) const SETTLEMENT: &str = "settlement";
pub(crate) const PRODUCT: &str = "product";
pub(crate) const CHARGE_FLOW: &str = "charge_flow";
pub(crate) const BULK_BATCH: &str = "bulk_batch";
pub(crate) const BULK_CHARGE: &str = "bulk_charge";
pub(crate) const APPLE_PAY_DOMAIN: &str = "apple_pay_domain";
pub(crate) const TERMINAL: &str = "terminal";
pub(crate) const TERMINAL_EVENT: &str = "terminal_event";
pub(crate) const PAGE: &str = "page";
pub(crate) const PAYMENT_REQUEST: &str = "paymentrequest";

#[derive(Debug, Default)]
pub(crate) struct Records {
    kinds: HashMap<&'static str, Vec<Value>>,
}

impl Records {
    /// Every record of `kind`, oldest first.
    pub(crate) fn all(&self, kind: &str) -> &[Value] {
        self.kinds.get(kind).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn push(&mut self, kind: &'static str, record: Value) {
        self.kinds.entry(kind).or_default().push(record);
    }

    /// The position of the record of `kind` whose `id`, or one of `fields`, is `key`.
    pub(crate) fn find(&self, kind: &str, key: &str, fields: &[&str]) -> Option<usize> {
        self.all(kind).iter().position(|r| {
            r["id"].as_u64().is_some_and(|id| id.to_string() == key)
                || fields.iter().any(|f| r[*f].as_str() == Some(key))
        })
    }

    pub(crate) fn remove(&mut self, kind: &str, index: usize) -> Option<Value> {
        let list = self.kinds.get_mut(kind)?;
        (index < list.len()).then(|| list.remove(index))
    }

    pub(crate) fn get_mut(&mut self, kind: &str, index: usize) -> Option<&mut Value> {
        self.kinds.get_mut(kind)?.get_mut(index)
    }
}
