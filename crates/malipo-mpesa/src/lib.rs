//! A typed async client for Safaricom's M-Pesa Daraja API, and Daraja's callbacks.
//!
//! - [`MpesaClient`]: OAuth token cache (refreshed before expiry, one refresh for all callers,
//!   one retry on "Invalid Access Token"), STK push and query, C2B register and simulate, B2C
//!   (v3), B2B, transaction status, account balance and reversal, C2B Pull Transactions
//!   (recovering confirmations that never arrived), Dynamic QR, M-Pesa Ratiba standing orders,
//!   B2B Express Checkout and Bill Manager. Fields are checked against Daraja's limits
//!   before sending; queries and token fetches are retried with backoff, payments never are.
//! - [`MpesaError`]: one error type keeping Daraja's `requestId`, `errorCode` and
//!   `errorMessage`, and telling validation, HTTP, timeout and decode failures apart. It never
//!   holds a secret.
//! - [`parse_callback`]: typed callbacks (STK, C2B validation and confirmation, results, queue
//!   timeouts) with their dedup keys, and the acknowledgement bodies Daraja expects.
//! - [`DarajaCertificate`]: makes the `SecurityCredential` from the initiator password.
//!
//! # The STK push flow, end to end
//!
//! ```no_run
//! use malipo_core::{Currency, Money, Msisdn, Secret};
//! use malipo_mpesa::{
//!     parse_callback, Callback, CallbackKind, MpesaClient, MpesaSettings, StkPushRequest,
//!     StkQueryOutcome, CALLBACK_ACK, SANDBOX_BASE_URL,
//! };
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // 1. Build a client from the app's credentials (from your configuration, never from code).
//! let settings = MpesaSettings::new(
//!     SANDBOX_BASE_URL.parse()?,
//!     Secret::new(std::env::var("MPESA_CONSUMER_KEY")?),
//!     Secret::new(std::env::var("MPESA_CONSUMER_SECRET")?),
//!     Secret::new(std::env::var("MPESA_PASSKEY")?),
//!     "174379",
//! );
//! let client = MpesaClient::new(settings)?;
//!
//! // 2. Ask the customer's phone for KES 100. Amount, reference (≤ 12) and description (≤ 13)
//! //    are checked before anything is sent; the password uses Nairobi time.
//! let push = StkPushRequest::paybill(
//!     Money::from_major(100, Currency::Kes)?,
//!     "0708374149".parse::<Msisdn>()?,
//!     "https://pay.example.com/hooks/stk/3f9a1c".parse()?,
//!     "INV-1042",
//!     "Order 1042",
//! );
//! let accepted = client.stk_push(&push).await?;
//! println!("sent, CheckoutRequestID {}", accepted.checkout_request_id);
//!
//! // 3. Daraja POSTs the result to the callback URL. Parse it, store it under its dedup key,
//! //    then answer with the acknowledgement.
//! let body = br#"{"Body":{"stkCallback":{"MerchantRequestID":"29115-34620561-1",
//!     "CheckoutRequestID":"ws_CO_191220191020363925","ResultCode":0,
//!     "ResultDesc":"The service request is processed successfully.",
//!     "CallbackMetadata":{"Item":[{"Name":"Amount","Value":100.00},
//!     {"Name":"MpesaReceiptNumber","Value":"NLJ7RT61SV"},
//!     {"Name":"PhoneNumber","Value":254708374149}]}}}}"#;
//! let callback = parse_callback(CallbackKind::Stk, body)?;
//! assert_eq!(callback.dedup_key(), "stk:ws_CO_191220191020363925");
//! if let Callback::Stk(stk) = &callback {
//!     println!("paid: {}, receipt {:?}, amount {:?}", stk.is_paid(), stk.receipt(), stk.amount());
//! }
//! let _answer = CALLBACK_ACK;
//!
//! // 4. No callback after a while? Ask Daraja.
//! match client.stk_query(&accepted.checkout_request_id).await? {
//!     StkQueryOutcome::Pending { .. } => println!("the customer has not answered yet"),
//!     StkQueryOutcome::Completed(result) => println!("ResultCode {:?}", result.result_code),
//! }
//! # Ok(())
//! # }
//! ```

mod accepted;
mod account;
mod b2b;
mod b2b_express;
mod b2c;
mod bill_manager;
mod c2b;
mod callback;
mod client;
mod credential;
mod de;
mod error;
mod password;
mod pull;
mod qr;
mod ratiba;
mod settings;
mod stk;
mod validate;

pub use accepted::{AcceptedResponse, IdentifierType};
pub use account::{AccountBalanceRequest, ResultUrls, ReversalRequest, TransactionStatusRequest};
pub use b2b::{B2bCommand, B2bRequest};
pub use b2b_express::{
    parse_b2b_express_callback, B2bExpressAccepted, B2bExpressCallback, B2bExpressRequest,
};
pub use b2c::{B2cCommand, B2cRequest};
pub use bill_manager::{
    parse_bill_manager_payment, BillManagerAnswer, BillManagerOptIn, BillManagerPayment, Invoice,
    InvoiceItem, PaymentAcknowledgement, BILL_MANAGER_ACK, BULK_INVOICES_MAX,
};
pub use c2b::{C2bCommand, C2bResponseType, C2bSimulateRequest, C2bVersion, RegisterUrlsRequest};
pub use callback::{
    callback_ack, parse_callback, C2bPayment, C2bRejection, C2bValidationResponse, Callback, CallbackError,
    CallbackKind, CallbackMetadata, KeyValue, MetadataItem, OneOrMany, QueueTimeout, ReferenceData,
    ResultCallback, ResultKind, ResultParameters, StkCallback, CALLBACK_ACK,
};
pub use callback::{is_receipt, stk_claim, ResultCode, RECEIPT_LEN};
pub use client::{AccessToken, MpesaClient};
pub use credential::{check_ciphertext_len, CertEnvironment, CredentialError, DarajaCertificate};
pub use error::{MpesaError, INVALID_ACCESS_TOKEN, SPIKE_ARREST, STILL_PROCESSING, SYSTEM_BUSY};
pub use password::{nairobi_timestamp, stk_password};
pub use pull::{
    parse_pull_answer, PullPage, PullQuery, PullRegisterRequest, PullRegistered, PullWindow,
    PulledTransaction, PULL_MAX_PAGES, PULL_NONE, PULL_OK, PULL_RETENTION,
};
pub use qr::{DynamicQr, DynamicQrRequest, QrTransaction, QR_MAX_SIZE};
pub use ratiba::{
    parse_ratiba_callback, RatibaCallback, RatibaFrequency, RatibaPayee, StandingOrderAccepted,
    StandingOrderRequest,
};
pub use settings::{MpesaSettings, RetryPolicy, PRODUCTION_BASE_URL, SANDBOX_BASE_URL};
pub use stk::{
    stk_result_meaning, StkPushRequest, StkPushResponse, StkQueryOutcome, StkQueryResult, StkTransaction,
    ACCOUNT_REFERENCE_MAX, TRANSACTION_DESC_MAX,
};
