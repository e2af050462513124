//! Degradations: the record of everything a conversion could not carry over exactly.
//!
//! A conversion never drops or bends a field silently: it returns the value together with a
//! list of [`Degradation`]s, and the host decides what they mean (a log line, a header, a
//! rejection in strict mode). The core has no logger on purpose.

use serde::Serialize;

/// What happened to a field that could not be mapped exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DegradationKind {
    /// Left out: the upstream has no place for it.
    Dropped,
    /// Carried over, but with a different meaning or precision.
    Approximated,
    /// Something missing was filled in.
    Defaulted,
    /// A feature the upstream cannot perform; its content is left out.
    Unsupported,
}

/// One lossy step of a conversion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Degradation {
    /// Where, in the input: `messages[2].content[0]`, `tools[1].defer_loading`.
    pub path: String,
    /// What happened.
    pub kind: DegradationKind,
    /// Why, for a human.
    pub detail: String,
}

/// A lossy success: the converted value and what it lost.
#[derive(Debug, Clone)]
pub struct Converted<T> {
    /// The converted value.
    pub value: T,
    /// Everything that was not carried over exactly, in input order.
    pub degradations: Vec<Degradation>,
}

/// Collects degradations during one conversion.
#[derive(Debug, Default)]
pub(crate) struct Degradations(pub(crate) Vec<Degradation>);

impl Degradations {
    pub(crate) fn push(
        &mut self,
        path: impl Into<String>,
        kind: DegradationKind,
        detail: impl Into<String>,
    ) {
        self.0.push(Degradation {
            path: path.into(),
            kind,
            detail: detail.into(),
        });
    }
}
