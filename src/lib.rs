//! eventrelay: durable subscriptions to workflow engines' WebSocket event
//! streams (AGNT5, Lyzr), every event normalized into one canonical
//! CloudEvents 1.0 schema and published to Kafka or NATS keyed by execution
//! id, buffered while a broker is away.
//!
//! # Layout
//!
//! Data flows one way: socket → normalize → router → per-sink buffer →
//! sink → broker ack → buffer release.
//!
//! | module | holds |
//! |---|---|
//! | [`cli`] | the command line (clap) |
//! | [`app`] | wiring: sinks, router, sources, admin; ordered shutdown |
//! | [`config`] | top-level config, loading (file, env overrides, `${NAME}`), value types |
//! | [`record`] | [`record::Record`]: one frame turned into an event or dead letter, serialized once |
//! | [`normalize`] | vendor frame → canonical event; redaction |
//! | [`dead_letter`] | the dead-letter record |
//! | [`demo`] | `eventrelay demo`: simulator + relay + stdout sink in one process |
//! | [`sources`] | subscriptions: connect, heartbeat, backoff, de-duplication, gaps |
//! | [`router`] | fan-out of records to the sinks whose filter takes them |
//! | [`buffer`] | per-sink memory and disk buffers, `when_full` policy |
//! | [`sinks`] | Kafka, NATS, file, stdout; the publish/ack/retry driver |
//! | [`admin`] | health, readiness, metrics and subscriptions HTTP API |
//! | [`metrics`] | the metric contract |
//! | [`readiness`] | readiness latches held by components |
//! | [`shutdown`] | OS signals |
//! | [`simulator`] | a simulated workflow engine speaking both protocols |
//! | [`time`] | clock and RFC 3339 helpers |

pub mod admin;
pub mod app;
pub mod buffer;
pub mod cli;
pub mod config;
pub mod dead_letter;
pub mod demo;
pub mod metrics;
pub mod normalize;
pub mod readiness;
pub mod record;
pub mod router;
pub mod shutdown;
pub mod simulator;
pub mod sinks;
pub mod sources;
pub mod time;
