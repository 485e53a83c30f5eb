//! Readiness as a set of latches held by the components: the relay is ready
//! when every latch is released. `/readyz` reports facts the components
//! state, it does not guess.

use std::sync::{Arc, Mutex};

/// The set of latches.
#[derive(Clone, Default)]
pub struct Readiness {
    latches: Arc<Mutex<Vec<Arc<LatchState>>>>,
}

struct LatchState {
    name: String,
    state: Mutex<Result<(), String>>,
}

/// A component's latch: not ready until [`Latch::ready`] is called.
#[derive(Clone)]
pub struct Latch(Arc<LatchState>);

impl Readiness {
    /// Creates an empty set (ready, since nothing holds it).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a latch named `name`, initially not ready with `reason`.
    pub fn latch(&self, name: impl Into<String>, reason: impl Into<String>) -> Latch {
        let state = Arc::new(LatchState {
            name: name.into(),
            state: Mutex::new(Err(reason.into())),
        });
        if let Ok(mut l) = self.latches.lock() {
            l.push(state.clone());
        }
        Latch(state)
    }

    /// `Ok` when every latch is ready, else the `(name, reason)` of each
    /// latch that is not.
    pub fn check(&self) -> Result<(), Vec<(String, String)>> {
        let latches = match self.latches.lock() {
            Ok(l) => l.clone(),
            Err(_) => return Err(vec![("relay".into(), "internal lock poisoned".into())]),
        };
        let not_ready: Vec<_> = latches
            .iter()
            .filter_map(|l| match l.state.lock() {
                Ok(s) => s.as_ref().err().map(|r| (l.name.clone(), r.clone())),
                Err(_) => Some((l.name.clone(), "internal lock poisoned".into())),
            })
            .collect();
        if not_ready.is_empty() {
            Ok(())
        } else {
            Err(not_ready)
        }
    }
}

impl Latch {
    /// Marks the component ready.
    pub fn ready(&self) {
        self.set(Ok(()));
    }

    /// Marks the component not ready, saying why.
    pub fn not_ready(&self, reason: impl Into<String>) {
        self.set(Err(reason.into()));
    }

    fn set(&self, v: Result<(), String>) {
        if let Ok(mut s) = self.0.state.lock() {
            *s = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_latch_is() {
        let r = Readiness::new();
        assert!(r.check().is_ok());
        let a = r.latch("sink:a", "connecting");
        let b = r.latch("sink:b", "connecting");
        assert_eq!(r.check().err().map(|v| v.len()), Some(2));
        a.ready();
        b.ready();
        assert!(r.check().is_ok());
        b.not_ready("buffer above high-water mark");
        let err = r.check().err().unwrap_or_default();
        assert_eq!(
            err,
            vec![(
                "sink:b".to_string(),
                "buffer above high-water mark".to_string()
            )]
        );
    }
}
