//! The Paystack simulator.
