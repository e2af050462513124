//! What the load tool (`proxy-load`) measures with, as a library so that a test can run the
//! soak at a tiny size: a process's resources from `/proc` ([`procfs`]), the check of a
//! numbered stream ([`seq`]), and the soak itself ([`soak`]).

pub mod procfs;
pub mod seq;
pub mod soak;
