//! Local simulators of Safaricom's Daraja API and of Paystack, for tests and demos.
//!
//! Each serves the provider's paths and payload shapes on loopback, and calls back (or sends the
//! webhook) the way the real provider does, so malipo runs end to end with no internet.

mod down;
pub mod mpesa;
pub mod paystack;

pub use down::Down;
