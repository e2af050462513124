//! Conversions between the wire formats.

pub mod chat_request;
pub mod chat_stream;
pub mod names;
pub mod openai_in;
pub mod openai_out;
pub mod request;
pub mod signature;
pub mod stream;
