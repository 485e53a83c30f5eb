//! eventrelay: durable WebSocket subscriptions to workflow engines, normalized
//! into CloudEvents and published to Kafka or NATS.
//!
//! # Layout
//!
//! The module map is filled in as components land.

pub mod simulator;
