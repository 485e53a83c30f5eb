//! Fan-out from sources to sinks: each record goes to the buffer of every
//! sink whose filter takes it, as a shared `Arc` (no copy per sink).

use std::sync::Arc;

use crate::buffer::{BufferError, BufferWriter};
use crate::record::Record;
use crate::sinks::filter::TypeFilter;

/// One sink's entry.
#[derive(Clone)]
pub struct Route {
    /// Sink name.
    pub sink: Arc<str>,
    /// The sink's filter.
    pub filter: TypeFilter,
    /// The sink's buffer.
    pub writer: BufferWriter,
}

/// Routes records to sinks. Cheap to clone: one per source task.
#[derive(Clone)]
pub struct Router {
    routes: Arc<[Route]>,
}

impl Router {
    /// A router over `routes`.
    pub fn new(routes: Vec<Route>) -> Self {
        Self {
            routes: routes.into(),
        }
    }

    /// Delivers `record` to every sink that takes it; waits while a `block`
    /// buffer is full (backpressure to the socket).
    ///
    /// # Errors
    /// [`BufferError::Closed`] when a sink is gone (shutdown).
    pub async fn dispatch(&self, record: Arc<Record>) -> Result<(), BufferError> {
        for route in self.routes.iter() {
            if route.filter.accepts(&record) {
                route.writer.push(record.clone()).await?;
            }
        }
        Ok(())
    }
}
