//! The crate's integration tests, one binary: every client operation against the Daraja
//! simulator over real HTTP on 127.0.0.1 (a receiver catching the simulator's callbacks parses them
//! with the client's parser), every callback fixture, and property tests of the parser.

mod bill_manager;
mod c2b;
mod callback_props;
mod callbacks;
mod credential;
mod errors;
mod initiator;
mod pull;
mod qr;
mod ratiba_b2b_express;
mod redirects;
mod results;
mod stk;
mod support;
mod token;
