//! Accounts and sign-in: the store on disk, the live pool (single-flight refresh, cooldowns,
//! quota), each account's model catalog, the sign-in flows, `wham/usage` quota, and import. Nothing here knows HTTP routes or
//! the CLI.

pub mod catalog;
pub mod import;
pub mod login;
mod pool;
pub mod quota;
pub mod store;

pub use pool::*;
