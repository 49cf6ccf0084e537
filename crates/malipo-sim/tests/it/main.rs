//! The simulators' own checks over raw HTTP, one binary: Daraja's and Paystack's.

mod mpesa;
mod paystack;
