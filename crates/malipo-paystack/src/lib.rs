//! A typed async client for the Paystack API, its webhook events and their signature.
//!
//! # Client
//!
//! Amounts are [`malipo_core::Money`] (minor units + currency); the secret key is a
//! [`malipo_core::Secret`] and appears in no `Debug`, error or log. Point the base URL at
//! `malipo-sim`'s Paystack simulator to run without the internet, as here:
//!
//! ```
//! use malipo_core::{Currency, Money, Secret};
//! use malipo_paystack::{Client, InitializeTransaction};
//! # use malipo_sim::paystack::{PaystackSim, SimConfig, TEST_SECRET_KEY};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let sim = PaystackSim::start(SimConfig::default()).await?;
//! # let base_url = sim.base_url().clone();
//! # let secret_key = Secret::new(TEST_SECRET_KEY.to_string());
//! let client = Client::builder(secret_key).base_url(base_url).build()?;
//!
//! let checkout = InitializeTransaction::new("wanjiru@example.com", Money::parse("150.50", Currency::Kes)?)
//!     .reference("order-42");
//! let started = client.initialize_transaction(&checkout).await?;
//! println!("send the customer to {}", started.authorization_url);
//! # sim.authorize("order-42")?;
//!
//! // Later (after the webhook, or from a reconciler): ask Paystack for the truth.
//! let tx = client.verify_transaction("order-42").await?;
//! assert!(tx.is_successful());
//! assert_eq!(tx.amount(), Some(Money::from_minor(15_050, Currency::Kes)));
//! # Ok(())
//! # }
//! ```
//!
//! # API groups
//!
//! Transactions, refunds, transfers, customers, plans, subscriptions, transfer recipients,
//! transfer control (balance, ledger), verification, miscellaneous (banks, countries, states),
//! dedicated virtual accounts, subaccounts, transaction splits, settlements, disputes, products,
//! payment pages, payment requests, the charge API, bulk charges, Apple Pay and terminals have
//! typed methods on [`Client`]; [`API_GROUPS`] lists them.
//! [`Client::request`] reaches any other endpoint. List methods return a [`futures::Stream`] of
//! items that fetches the next page only when the previous one is used up:
//!
//! ```
//! use futures::TryStreamExt;
//! use malipo_core::Secret;
//! use malipo_paystack::{Client, CreateCustomer, ListQuery};
//! # use malipo_sim::paystack::{PaystackSim, SimConfig, TEST_SECRET_KEY};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let sim = PaystackSim::start(SimConfig::default()).await?;
//! # let client = Client::builder(Secret::new(TEST_SECRET_KEY.to_string()))
//! #     .base_url(sim.base_url().clone())
//! #     .build()?;
//! for email in ["amina@example.com", "baraka@example.com", "chebet@example.com"] {
//!     client.create_customer(&CreateCustomer::new(email)).await?;
//! }
//! let two_a_page = ListQuery { per_page: Some(2), ..ListQuery::default() };
//! let mut customers = client.list_customers(&two_a_page);
//! let mut emails = Vec::new();
//! while let Some(customer) = customers.try_next().await? {
//!     emails.extend(customer.email);
//! }
//! assert_eq!(emails.len(), 3); // two requests: a page of two, then a page of one
//! # Ok(())
//! # }
//! ```
//!
//! # Webhooks
//!
//! Check the `X-Paystack-Signature` header against the **raw** body first, then parse:
//!
//! ```
//! use malipo_core::{Currency, Money, Secret};
//! use malipo_paystack::{sign, verify_signature, Event};
//!
//! let secret = Secret::new("sk_test_obviously_fake".to_string());
//! let body = br#"{"event":"charge.success","data":{"id":302961,"reference":"order-42",
//!     "status":"success","amount":150000,"currency":"KES",
//!     "customer":{"email":"wanjiru@example.com"}}}"#;
//! let header = sign(body, &secret); // what Paystack sends
//!
//! verify_signature(body, Some(header.as_bytes()), &secret).expect("signed by Paystack");
//! let event = Event::from_slice(body).expect("a Paystack event");
//! assert_eq!(event.name(), "charge.success");
//! assert_eq!(event.dedup_key().as_deref(), Some("charge.success:302961"));
//! assert_eq!(event.reference(), Some("order-42"));
//! assert_eq!(event.amount(), Some(Money::from_minor(150_000, Currency::Kes)));
//! assert!(matches!(event, Event::ChargeSuccess(_)));
//! ```
//!
//! A webhook is a notification, not the truth: confirm a charge with
//! `verify_transaction(reference)` before fulfilling it.

mod apple_pay;
mod balance;
mod bulk_charges;
mod charge;
mod client;
mod customers;
mod de;
mod dedicated_accounts;
mod disputes;
mod error;
mod event;
mod event_data;
mod groups;
mod identify;
mod misc;
mod model;
mod pages;
mod paging;
mod payment_requests;
mod plans;
mod products;
mod raw;
mod recipients;
mod records;
mod refunds;
mod settlements;
mod signature;
mod splits;
mod subaccounts;
mod subscriptions;
mod terminals;
mod transactions;
mod transfers;
mod verification;

pub use balance::{Balance, LedgerEntry};
pub use bulk_charges::{BulkCharge, BulkChargeBatch, BulkChargeItem};
pub use charge::{BillingAddress, Card, ChargeAttempt, ChargeStep, CreateCharge, PaymentSource};
pub use customers::{CreateCustomer, RiskAction, UpdateCustomer, ValidateCustomer};
pub use dedicated_accounts::{
    CreateDedicatedAccount, DedicatedAccount, DedicatedBank, DedicatedProvider, ListDedicatedAccounts,
};
pub use disputes::{DisputeEvidence, DisputeResolution, Evidence, ResolveDispute, UploadUrl};
pub use groups::{ApiGroup, API_GROUPS};
pub use misc::{AddressState, Bank, Country, ListBanks};
pub use pages::{CreatePaymentPage, PaymentPage, UpdatePaymentPage};
pub use payment_requests::{CreatePaymentRequest, CurrencyTotal, LineItem, PaymentRequestTotals};
pub use plans::{CreatePlan, Interval, ListPlans};
pub use products::{CreateProduct, Product};
pub use recipients::{BulkRecipients, UpdateTransferRecipient};
/// The HTTP method type [`Client::request`] takes.
pub use records::{event_carries_resources, resources_in_event, RecordKind, ResourceCopy};
pub use reqwest::Method;
pub use splits::{Bearer, CreateSplit, Split, SplitMember, SplitShare, SplitType, UpdateSplit};
pub use subaccounts::{CreateSubaccount, Subaccount};
pub use subscriptions::{CreateSubscription, ListSubscriptions};
pub use terminals::{Terminal, TerminalEvent, TerminalPresence};
pub use verification::{AccountValidation, CardBin, ResolvedAccount, ValidateAccount};

pub use client::{Client, ClientBuilder, ListQuery, Page, PageMeta, DEFAULT_BASE_URL};
pub use error::Error;
pub use event::{Event, EventError};
pub use event_data::{
    CustomerIdentification, DedicatedAccountAssignment, Dispute, ExpiringCard, Invoice, PaymentRequest, Plan,
    RefundNotice, Subscription,
};
pub use identify::{identify, Identified};
pub use model::{
    Authorization, Customer, Expandable, RecipientDetails, Refund, Transaction, Transfer, TransferRecipient,
};
pub use refunds::CreateRefund;
pub use settlements::Settlement;
pub use signature::{sign, verify_signature, SignatureError, SIGNATURE_HEADER};
pub use transactions::{ChargeAuthorization, InitializeTransaction, InitializedTransaction};
pub use transfers::{CreateTransferRecipient, InitiateTransfer};
