//! Local simulators of Daraja and Paystack.
