//! Every client operation against the Daraja simulator over real HTTP on 127.0.0.1, with a
//! receiver catching the simulator's callbacks and parsing them with the client's parser.

mod bill_manager;
mod c2b;
mod errors;
mod initiator;
mod pull;
mod qr;
mod ratiba_b2b_express;
mod redirects;
mod stk;
mod support;
mod token;
