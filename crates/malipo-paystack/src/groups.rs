//! The API groups this crate has typed methods for, so a test can hold each one to being
//! exercised against the simulator.

/// One group of Paystack's API reference with typed methods on [`crate::Client`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiGroup {
    /// The group's name, as in Paystack's reference.
    pub name: &'static str,
    /// The paths (without the leading `/`) its endpoints live under, such as `customer`.
    pub paths: &'static [&'static str],
}

/// Every API group with typed methods. [`crate::Client::request`] reaches the rest.
pub const API_GROUPS: &[ApiGroup] = &[
    ApiGroup {
        name: "transactions",
        paths: &["transaction"],
    },
    ApiGroup {
        name: "refunds",
        paths: &["refund"],
    },
    ApiGroup {
        name: "transfers",
        paths: &["transfer"],
    },
    ApiGroup {
        name: "customers",
        paths: &["customer"],
    },
    ApiGroup {
        name: "plans",
        paths: &["plan"],
    },
    ApiGroup {
        name: "subscriptions",
        paths: &["subscription"],
    },
    ApiGroup {
        name: "transfer recipients",
        paths: &["transferrecipient"],
    },
    ApiGroup {
        name: "transfer control",
        paths: &["balance", "balance/ledger"],
    },
    ApiGroup {
        name: "verification",
        paths: &["bank/resolve", "decision/bin", "bank/validate"],
    },
    ApiGroup {
        name: "miscellaneous",
        paths: &["bank", "country", "address_verification/states"],
    },
    ApiGroup {
        name: "dedicated virtual accounts",
        paths: &["dedicated_account"],
    },
    ApiGroup {
        name: "subaccounts",
        paths: &["subaccount"],
    },
    ApiGroup {
        name: "transaction splits",
        paths: &["split"],
    },
    ApiGroup {
        name: "settlements",
        paths: &["settlement"],
    },
    ApiGroup {
        name: "disputes",
        paths: &["dispute"],
    },
    ApiGroup {
        name: "products",
        paths: &["product"],
    },
    ApiGroup {
        name: "payment pages",
        paths: &["page"],
    },
    ApiGroup {
        name: "payment requests",
        paths: &["paymentrequest"],
    },
    ApiGroup {
        name: "charge",
        paths: &["charge"],
    },
    ApiGroup {
        name: "bulk charges",
        paths: &["bulkcharge"],
    },
    ApiGroup {
        name: "apple pay",
        paths: &["apple-pay/domain"],
    },
    ApiGroup {
        name: "terminals",
        paths: &["terminal"],
    },
];
