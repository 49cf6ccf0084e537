//! The Daraja simulator.
