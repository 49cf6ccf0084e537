//! The Paystack resources a merchant's app reads locally (customers, plans, subscriptions,
//! transfers, dedicated accounts): what each is called, how it is identified, where the API lists
//! it, and which of them a webhook event carries.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::client::{Client, ListQuery, Page};
use crate::error::Error;
use crate::paging::Listing;

/// A kind of Paystack resource kept as a local record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    /// `CUS_…`, from `GET /customer`.
    Customer,
    /// `PLN_…`, from `GET /plan`.
    Plan,
    /// `SUB_…`, from `GET /subscription`.
    Subscription,
    /// `TRF_…`, from `GET /transfer`.
    Transfer,
    /// A dedicated virtual account (numeric id), from `GET /dedicated_account`.
    DedicatedAccount,
}

impl RecordKind {
    /// Every kind, in the order a sync takes them (customers before what refers to them).
    pub const ALL: [RecordKind; 5] = [
        RecordKind::Customer,
        RecordKind::Plan,
        RecordKind::Subscription,
        RecordKind::Transfer,
        RecordKind::DedicatedAccount,
    ];

    /// The stored name: `customer`, `plan`, `subscription`, `transfer`, `dedicated_account`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Customer => "customer",
            RecordKind::Plan => "plan",
            RecordKind::Subscription => "subscription",
            RecordKind::Transfer => "transfer",
            RecordKind::DedicatedAccount => "dedicated_account",
        }
    }

    /// The plural people type: `customers`, …, `dedicated-accounts`.
    pub fn plural(self) -> &'static str {
        match self {
            RecordKind::Customer => "customers",
            RecordKind::Plan => "plans",
            RecordKind::Subscription => "subscriptions",
            RecordKind::Transfer => "transfers",
            RecordKind::DedicatedAccount => "dedicated-accounts",
        }
    }

    /// Reads a kind by its stored name or its plural, with `-` or `_`.
    pub fn parse(name: &str) -> Option<RecordKind> {
        let name = name.trim().replace('-', "_");
        RecordKind::ALL
            .into_iter()
            .find(|k| name == k.as_str() || name == k.plural().replace('-', "_"))
    }

    /// The field holding the identifier people and the API use.
    fn code_field(self) -> &'static str {
        match self {
            RecordKind::Customer => "customer_code",
            RecordKind::Plan => "plan_code",
            RecordKind::Subscription => "subscription_code",
            RecordKind::Transfer => "transfer_code",
            RecordKind::DedicatedAccount => "id",
        }
    }

    fn path(self) -> &'static str {
        match self {
            RecordKind::Customer => "customer",
            RecordKind::Plan => "plan",
            RecordKind::Subscription => "subscription",
            RecordKind::Transfer => "transfer",
            RecordKind::DedicatedAccount => "dedicated_account",
        }
    }

    fn endpoint(self) -> &'static str {
        match self {
            RecordKind::Customer => "GET /customer",
            RecordKind::Plan => "GET /plan",
            RecordKind::Subscription => "GET /subscription",
            RecordKind::Transfer => "GET /transfer",
            RecordKind::DedicatedAccount => "GET /dedicated_account",
        }
    }
}

impl std::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One resource as Paystack rendered it, with its identifier and last change read out.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceCopy {
    /// What it is.
    pub kind: RecordKind,
    /// Its code (`CUS_…`), or its numeric id for a dedicated account.
    pub id: String,
    /// The JSON object (from a webhook: the part of it the event carries).
    pub data: Map<String, Value>,
    /// Its `updatedAt` (or `updated_at`), when present.
    pub updated_at: Option<DateTime<Utc>>,
}

impl ResourceCopy {
    /// Reads `value` as a resource of `kind`; `None` when it is not an object or has no
    /// identifier (a charge's empty `plan: {}`, say).
    pub fn read(kind: RecordKind, value: &Value) -> Option<ResourceCopy> {
        let data = value.as_object()?;
        let id = match &data.get(kind.code_field())? {
            Value::String(s) if !s.trim().is_empty() => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        let updated_at = ["updatedAt", "updated_at"]
            .iter()
            .filter_map(|f| data.get(*f)?.as_str())
            .find_map(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        Some(ResourceCopy {
            kind,
            id,
            data: data.clone(),
            updated_at,
        })
    }
}

/// Whether an event of this name can carry a resource [`resources_in_event`] reads (so other
/// events need not be parsed for it).
pub fn event_carries_resources(name: &str) -> bool {
    CARRYING_EVENTS.contains(&name)
}

const CARRYING_EVENTS: [&str; 14] = [
    "charge.success",
    "paymentrequest.success",
    "invoice.create",
    "invoice.update",
    "invoice.payment_failed",
    "subscription.create",
    "subscription.disable",
    "subscription.not_renew",
    "transfer.success",
    "transfer.failed",
    "transfer.reversed",
    "customeridentification.success",
    "customeridentification.failed",
    "dedicatedaccount.assign.success",
];

/// The resources a webhook event carries: a charge's customer and plan, a subscription (and its
/// customer and plan), an invoice's subscription, a transfer, an identified customer, an
/// assigned dedicated account and its customer. `body` is the whole (verified) event; anything
/// not in these shapes carries nothing.
pub fn resources_in_event(body: &Value) -> Vec<ResourceCopy> {
    let name = body["event"].as_str().unwrap_or_default();
    let data = &body["data"];
    let mut found = Vec::new();
    // A nested copy (a charge's customer) is the part the event shows, not a newer version of
    // the whole: it keeps no time, so it merges into what is kept instead of being refused as
    // older. The event's own object keeps its time.
    let mut nested = |kind: RecordKind, value: &Value| {
        found.extend(ResourceCopy::read(kind, value).map(|mut c| {
            c.updated_at = None;
            c
        }))
    };
    match name {
        "charge.success"
        | "paymentrequest.success"
        | "invoice.create"
        | "invoice.update"
        | "invoice.payment_failed" => {
            nested(RecordKind::Customer, &data["customer"]);
            nested(RecordKind::Plan, &data["plan"]);
            nested(RecordKind::Subscription, &data["subscription"]);
        }
        "subscription.create" | "subscription.disable" | "subscription.not_renew" => {
            nested(RecordKind::Customer, &data["customer"]);
            nested(RecordKind::Plan, &data["plan"]);
            found.extend(ResourceCopy::read(RecordKind::Subscription, data));
        }
        "transfer.success" | "transfer.failed" | "transfer.reversed" => {
            found.extend(ResourceCopy::read(RecordKind::Transfer, data))
        }
        "customeridentification.success" | "customeridentification.failed" => {
            found.extend(ResourceCopy::read(RecordKind::Customer, data))
        }
        "dedicatedaccount.assign.success" => {
            nested(RecordKind::Customer, &data["customer"]);
            nested(RecordKind::DedicatedAccount, &data["dedicated_account"]);
        }
        _ => {}
    }
    found
}

impl Client {
    /// One page of `kind`'s resources as Paystack renders them, with the paging information
    /// (`meta.total`, `meta.pageCount`) a resumable sync needs.
    pub async fn resource_page(&self, kind: RecordKind, query: &ListQuery) -> Result<Page<Value>, Error> {
        self.listing_page(&Listing::new(kind.endpoint(), &[kind.path()]).query(query))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_carrying_events_are_parsed() {
        for name in CARRYING_EVENTS {
            assert!(event_carries_resources(name));
            assert!(crate::Event::KNOWN.contains(&name), "{name} is a Paystack event");
        }
        assert!(!event_carries_resources("refund.processed"));
        assert!(!event_carries_resources("charge.dispute.create"));
    }

    #[test]
    fn kinds_read_back_from_their_names() {
        for kind in RecordKind::ALL {
            assert_eq!(RecordKind::parse(kind.as_str()), Some(kind));
            assert_eq!(RecordKind::parse(kind.plural()), Some(kind));
        }
        assert_eq!(
            RecordKind::parse("dedicated_accounts"),
            Some(RecordKind::DedicatedAccount)
        );
        assert_eq!(RecordKind::parse("refunds"), None);
    }

    #[test]
    fn a_resource_is_read_by_its_code_or_id() {
        let c = ResourceCopy::read(
            RecordKind::Customer,
            &json!({"customer_code": "CUS_1", "updatedAt": "2026-01-02T03:04:05.000Z"}),
        )
        .unwrap();
        assert_eq!(c.id, "CUS_1");
        assert_eq!(c.updated_at, Some("2026-01-02T03:04:05Z".parse().unwrap()));
        let d = ResourceCopy::read(RecordKind::DedicatedAccount, &json!({"id": 7})).unwrap();
        assert_eq!(d.id, "7");
        assert_eq!(ResourceCopy::read(RecordKind::Plan, &json!({})), None);
        assert_eq!(
            ResourceCopy::read(RecordKind::Plan, &json!({"plan_code": " "})),
            None
        );
        assert_eq!(ResourceCopy::read(RecordKind::Plan, &json!("PLN_1")), None);
    }

    #[test]
    fn the_fixtures_events_carry_their_resources() {
        let charge: Value =
            serde_json::from_str(include_str!("../tests/fixtures/charge-success.json")).unwrap();
        let found = resources_in_event(&charge);
        assert_eq!(found.len(), 1, "the customer; the empty plan is no plan");
        assert_eq!(
            (found[0].kind, found[0].id.as_str()),
            (RecordKind::Customer, "CUS_qo38as2hpsgk2r0")
        );
        let transfer: Value =
            serde_json::from_str(include_str!("../tests/fixtures/transfer-success.json")).unwrap();
        let found = resources_in_event(&transfer);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, RecordKind::Transfer);
        assert!(
            found[0].updated_at.is_some(),
            "the transfer itself keeps its time"
        );
    }

    #[test]
    fn every_fixture_event_about_a_resource_carries_it() {
        let fixtures: [(&str, RecordKind); 8] = [
            (
                include_str!("../tests/fixtures/customeridentification-success.json"),
                RecordKind::Customer,
            ),
            (
                include_str!("../tests/fixtures/subscription-create.json"),
                RecordKind::Subscription,
            ),
            (
                include_str!("../tests/fixtures/subscription-disable.json"),
                RecordKind::Subscription,
            ),
            (
                include_str!("../tests/fixtures/subscription-not-renew.json"),
                RecordKind::Subscription,
            ),
            (
                include_str!("../tests/fixtures/invoice-create.json"),
                RecordKind::Customer,
            ),
            (
                include_str!("../tests/fixtures/transfer-failed.json"),
                RecordKind::Transfer,
            ),
            (
                include_str!("../tests/fixtures/transfer-reversed.json"),
                RecordKind::Transfer,
            ),
            (
                include_str!("../tests/fixtures/dedicatedaccount-assign-success.json"),
                RecordKind::DedicatedAccount,
            ),
        ];
        for (text, kind) in fixtures {
            let body: Value = serde_json::from_str(text).unwrap();
            let found = resources_in_event(&body);
            assert!(
                found.iter().any(|f| f.kind == kind && !f.id.is_empty()),
                "{} carries no {kind}: {found:?}",
                body["event"]
            );
        }
    }

    #[test]
    fn a_subscription_event_carries_the_subscription_its_customer_and_plan() {
        let body = json!({"event": "subscription.disable", "data": {
            "subscription_code": "SUB_1", "status": "complete", "updatedAt": "2026-01-02T00:00:00Z",
            "customer": {"customer_code": "CUS_1", "email": "a@example.com"},
            "plan": {"plan_code": "PLN_1", "name": "Monthly"}
        }});
        let found = resources_in_event(&body);
        let kinds: Vec<_> = found.iter().map(|f| (f.kind, f.id.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (RecordKind::Customer, "CUS_1"),
                (RecordKind::Plan, "PLN_1"),
                (RecordKind::Subscription, "SUB_1")
            ]
        );
        assert!(
            found[2].updated_at.is_some(),
            "the subscription itself keeps its time"
        );
        assert!(
            found[0].updated_at.is_none(),
            "a nested copy is a part, not a version"
        );
        let dva = json!({"event": "dedicatedaccount.assign.success", "data": {
            "customer": {"customer_code": "CUS_2"}, "dedicated_account": {"id": 9, "account_number": "123"}}});
        let found = resources_in_event(&dva);
        assert_eq!(
            (found[1].kind, found[1].id.as_str()),
            (RecordKind::DedicatedAccount, "9")
        );
        assert!(resources_in_event(&json!({"event": "refund.processed", "data": {}})).is_empty());
        assert!(resources_in_event(&json!("nonsense")).is_empty());
    }
}
