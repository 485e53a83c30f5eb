//! Which events a sink takes: glob patterns over the canonical `type`.

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::FilterConfig;
use crate::record::Record;

/// A compiled `filter.types`.
#[derive(Clone, Debug)]
pub struct TypeFilter {
    set: Option<GlobSet>,
}

impl TypeFilter {
    /// Compiles the patterns; an empty list takes every event.
    ///
    /// # Errors
    /// When a pattern is not a valid glob (config validation catches this
    /// first).
    pub fn new(config: &FilterConfig) -> Result<Self, globset::Error> {
        if config.types.is_empty() {
            return Ok(Self { set: None });
        }
        let mut b = GlobSetBuilder::new();
        for p in &config.types {
            b.add(Glob::new(p)?);
        }
        Ok(Self {
            set: Some(b.build()?),
        })
    }

    /// Whether `record` goes to the sink. Dead letters go to every sink's
    /// dead-letter destination, whatever its filter: nothing is dropped
    /// silently.
    pub fn accepts(&self, record: &Record) -> bool {
        match &self.set {
            None => true,
            Some(_) if record.is_dead_letter() => true,
            Some(set) => set.is_match(&record.event_type),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_types() {
        let f = TypeFilter::new(&FilterConfig {
            types: vec!["*.failed".into(), "execution.cancelled".into()],
        })
        .expect("valid");
        let set = f.set.as_ref().expect("set");
        assert!(set.is_match("task.failed"));
        assert!(set.is_match("execution.cancelled"));
        assert!(!set.is_match("task.completed"));
        assert!(!set.is_match("execution.completed"));
    }
}
