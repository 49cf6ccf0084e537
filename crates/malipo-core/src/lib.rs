//! Core types shared by every malipo crate.
//!
//! Nothing here knows about HTTP, databases or a provider's wire format; these are the types that
//! make illegal states unrepresentable everywhere else:
//!
//! - [`Money`]: an amount in integer minor units with its ISO currency. No floats, overflow is an
//!   error.
//! - [`Msisdn`]: a Kenyan mobile number normalised to `2547XXXXXXXX` / `2541XXXXXXXX`, masked when
//!   displayed.
//! - [`Secret`]: a value that never prints (`[REDACTED]`) unless [`Secret::expose`] is called.
//! - [`Id`]: typed, prefixed, time-sortable ids (`evt_…`, `pay_…`).
//!
//! ```
//! use malipo_core::{Currency, Money, Msisdn, Secret};
//!
//! let price = Money::parse("150.50", Currency::Kes).unwrap();
//! assert_eq!(price.minor(), 15_050);
//! assert_eq!(price.to_string(), "KES 150.50");
//!
//! let phone: Msisdn = "0712 345 678".parse().unwrap();
//! assert_eq!(phone.as_str(), "254712345678");
//! assert_eq!(phone.masked(), "2547****5678");
//!
//! let key = Secret::new(String::from("sk_test_obviously_fake"));
//! assert_eq!(format!("{key:?}"), "[REDACTED]");
//! assert_eq!(key.expose(), "sk_test_obviously_fake");
//! ```

mod account;
mod id;
mod money;
mod msisdn;
mod secret;

pub use account::{AccountName, AccountNameError, DEFAULT_ACCOUNT};
pub use id::kinds::{DeliveryId, EventId, JobId, PaymentId};
pub use id::{kinds, Id, IdError, IdKind};
pub use money::{Currency, Money, MoneyError};
pub use msisdn::{Msisdn, MsisdnError};
pub use secret::{Secret, REDACTED};
mod event;
mod payment;

pub use event::{EventStatus, Provider, PAYSTACK_WEBHOOK_IPS, SAFARICOM_CALLBACK_IPS};
pub use payment::{PaymentState, TransitionError};
mod outcome;

pub use outcome::{Claim, Outcome, Payer, Unsolicited};
