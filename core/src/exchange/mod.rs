//! The request lifecycle every host shares: one client request, from its parsed body to the
//! last byte, as a deterministic sans-IO state machine ([`Exchange`]).
//!
//! It decides everything around the upstream call (which account, refresh once on a 401,
//! rotate with a cooldown to the exact reset, wait out a short reset, strip replayed reasoning
//! once, back off; late commit; first-byte and idle timeouts; pings; the error shapes), and
//! the host only does what it says: picks accounts and fetches tokens from its pool, sends
//! the prepared request, feeds the answer's bytes back, sleeps until `poll_timeout()`, and
//! writes what it emits. The native host and the edge Worker are two drivers of this one
//! machine, so they behave the same by construction.
//!
//! - [`client`]: the client's request ([`Inbound`]) and what it receives ([`Reply`]).
//! - [`upstream`]: where the request goes ([`Target`]) and the prepared [`UpstreamRequest`].
//! - [`policy`]: what a failed attempt leads to ([`decide`](policy::decide)).
//! - `machine`: [`Exchange`] itself.

mod client;
mod machine;
pub mod policy;
pub mod sim;
mod upstream;

pub use client::{Dialect, Inbound, Reply};
pub use machine::{Exchange, ExchangeConfig, Output, Pick, TokenResult, error_reply};
pub use policy::Failure;
pub use upstream::{
    ChatTarget, CodexTarget, LITE_HEADER, Target, UpstreamRequest, is_header_value,
};
