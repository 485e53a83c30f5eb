//! Sources: durable subscriptions to workflow engines' WebSockets.
//!
//! | module | holds |
//! |---|---|
//! | `config` | [`SubscriptionConfig`] |
//! | `target` | socket URL, CloudEvents source and subprotocol of a subscription |
//! | `connector` | the connection loop shared by both providers |
//! | `agnt5`, `lyzr` | what differs per provider |
//! | `backoff` | exponential backoff with full jitter |
//! | `dedup` | bounded window of recent frame ids |
//! | `status` | state machine, counters, last error |
//! | `supervisor` | the running set: add, remove, list, run requests |
//! | `store` | API-added subscriptions persisted under `relay.data_dir` |

pub mod agnt5;
mod backoff;
mod config;
mod connector;
mod dedup;
pub mod lyzr;
mod status;
mod store;
mod supervisor;
mod target;

pub use agnt5::{RunRequest, RunRequestError};
pub use backoff::Backoff;
pub use config::SubscriptionConfig;
pub use connector::Shared;
pub use status::{CountersView, RunState, RunView, StatusView, SubscriptionState};
pub use store::{Store, StoreError};
pub use supervisor::{Origin, SubscriptionView, Supervisor, SupervisorError};
