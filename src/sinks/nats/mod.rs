//! NATS sink (async-nats): subject from a template, CloudEvents headers and
//! `Nats-Msg-Id`; core publish acknowledged by a flush (a PING/PONG round
//! trip after the batch), or JetStream publish acknowledged by the stream.
//!
//! Ordering under JetStream: a batch is published in rounds, at most one
//! record per execution in flight at a time, so a failed publish can never
//! be overtaken by a later event of the same execution. When a round fails,
//! the batch is retried from its first unacknowledged record; records that
//! were already stored are dropped by the stream's duplicate window
//! (`Nats-Msg-Id`).

mod config;
mod subject;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::header::HeaderName;
use async_nats::jetstream::{self, stream};
use async_nats::{Client, ConnectOptions, HeaderMap};
use tracing::{info, warn};

pub use config::NatsConfig;
pub use subject::{SubjectTemplate, TemplateError};

use super::{PublishError, Sink, SinkError};
use crate::metrics::SinkMetrics;
use crate::record::Record;

/// Content type of a structured-mode CloudEvent.
pub const CLOUDEVENTS_JSON: &str = "application/cloudevents+json";
/// Content type of a dead-letter record.
const DEAD_LETTER_JSON: &str = "application/json";
// Header names built once, at compile time: no parsing, validation or
// allocation per message.
const CONTENT_TYPE: HeaderName = HeaderName::from_static("content-type");
const CE_TYPE: HeaderName = HeaderName::from_static("ce_type");
const CE_ID: HeaderName = HeaderName::from_static("ce_id");
const CE_SOURCE: HeaderName = HeaderName::from_static("ce_source");
/// NATS servers' default `max_payload`.
const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;
/// Room left for headers under the server's `max_payload`.
const HEADER_ROOM: usize = 1024;
/// Largest number of JetStream acknowledgements awaited at once.
const MAX_ACK_INFLIGHT: usize = 4096;

/// Publishes to NATS.
pub struct NatsSink {
    name: String,
    client: Client,
    jetstream: Option<jetstream::Context>,
    subject: SubjectTemplate,
    dead_letter_subject: SubjectTemplate,
    ack_timeout: Duration,
    redact: bool,
    /// Stream to create before the first publish (`create_stream = true`);
    /// done lazily so that a server down at start-up only delays delivery.
    streams_pending: Option<String>,
}

impl NatsSink {
    /// Connects (in the background: a server that is down at start-up is
    /// retried, events buffer meanwhile) and creates the streams when asked.
    ///
    /// # Errors
    /// A bad template, unreadable credentials, or stream creation refused by
    /// a reachable server.
    pub async fn connect(
        name: &str,
        cfg: &NatsConfig,
        redact: bool,
        metrics: &SinkMetrics,
    ) -> Result<Self, SinkError> {
        let setup = |message: String| SinkError::Setup {
            sink: name.to_owned(),
            message,
        };
        let subject =
            SubjectTemplate::parse(&cfg.subject).map_err(|e| setup(format!("subject: {e}")))?;
        let dead_letter_subject = SubjectTemplate::parse(&cfg.dead_letter_subject)
            .map_err(|e| setup(format!("dead_letter_subject: {e}")))?;
        let options = connect_options(name, cfg, metrics)
            .await
            .map_err(|e| setup(format!("credentials_file: {e}")))?;
        let client = options
            .connect(cfg.url.as_str())
            .await
            .map_err(|e| setup(format!("cannot connect: {e}")))?;
        let jetstream = cfg.jetstream.then(|| {
            jetstream::ContextBuilder::new()
                .timeout(cfg.ack_timeout.get())
                .max_ack_inflight(MAX_ACK_INFLIGHT)
                .backpressure_on_inflight(true)
                .build(client.clone())
        });
        let streams_pending = cfg.stream.clone().filter(|_| cfg.create_stream);
        if streams_pending.is_some() {
            for (template, what) in [
                (&subject, "subject"),
                (&dead_letter_subject, "dead_letter_subject"),
            ] {
                if template.stream_subject().is_none() {
                    return Err(setup(format!(
                        "create_stream needs {what} to start with a fixed token"
                    )));
                }
            }
        }
        Ok(Self {
            name: name.to_owned(),
            client,
            jetstream,
            subject,
            dead_letter_subject,
            ack_timeout: cfg.ack_timeout.get(),
            redact,
            streams_pending,
        })
    }

    async fn create_streams(&self, name: &str) -> Result<(), String> {
        let Some(js) = &self.jetstream else {
            return Ok(());
        };
        for (stream_name, template) in [
            (name.to_owned(), &self.subject),
            (format!("{name}_DLQ"), &self.dead_letter_subject),
        ] {
            let config = stream::Config {
                name: stream_name.clone(),
                subjects: template.stream_subject().into_iter().collect(),
                ..Default::default()
            };
            js.get_or_create_stream(config)
                .await
                .map_err(|e| format!("cannot create stream {stream_name}: {e}"))?;
            info!(sink = %self.name, stream = %stream_name, "JetStream stream ready");
        }
        Ok(())
    }

    fn subject_and_headers(&self, r: &Record) -> (String, HeaderMap) {
        let mut headers = HeaderMap::new();
        let subject = if r.is_dead_letter() {
            headers.insert(CONTENT_TYPE, DEAD_LETTER_JSON);
            self.dead_letter_subject.render(r)
        } else {
            headers.insert(CONTENT_TYPE, CLOUDEVENTS_JSON);
            headers.insert(CE_TYPE, r.event_type.as_str());
            self.subject.render(r)
        };
        headers.insert(CE_ID, r.id.as_str());
        headers.insert(CE_SOURCE, r.source.as_str());
        headers.insert(async_nats::header::NATS_MESSAGE_ID, r.id.as_str());
        (subject, headers)
    }

    async fn publish_core(&self, batch: &[Arc<Record>]) -> Result<(), PublishError> {
        for r in batch {
            let (subject, headers) = self.subject_and_headers(r);
            self.client
                .publish_with_headers(subject, headers, r.payload_for(self.redact).clone())
                .await
                .map_err(|e| PublishError::new(0, format!("publish: {e}")))?;
        }
        match tokio::time::timeout(self.ack_timeout, self.client.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(PublishError::new(0, format!("flush: {e}"))),
            Err(_) => Err(PublishError::new(
                0,
                format!("no flush acknowledgement within {:?}", self.ack_timeout),
            )),
        }
    }

    async fn publish_jetstream(
        &self,
        js: &jetstream::Context,
        batch: &[Arc<Record>],
    ) -> Result<(), PublishError> {
        let lanes = rounds(batch);
        let mut acked = vec![false; batch.len()];
        let mut failure = None;
        let mut pending = Vec::with_capacity(batch.len().min(MAX_ACK_INFLIGHT));
        for round in lanes {
            pending.clear();
            for &i in &round {
                let r = &batch[i];
                let (subject, headers) = self.subject_and_headers(r);
                match js
                    .publish_with_headers(subject, headers, r.payload_for(self.redact).clone())
                    .await
                {
                    Ok(ack) => pending.push((i, ack)),
                    Err(e) => {
                        failure.get_or_insert_with(|| format!("publish: {e}"));
                        break;
                    }
                }
            }
            for (i, ack) in pending.drain(..) {
                match ack.await {
                    Ok(_) => acked[i] = true,
                    Err(e) => {
                        failure.get_or_insert_with(|| format!("acknowledgement: {e}"));
                    }
                }
            }
            if failure.is_some() {
                break;
            }
        }
        match failure {
            None => Ok(()),
            Some(message) => {
                let delivered = acked.iter().take_while(|a| **a).count();
                Err(PublishError::new(delivered, message))
            }
        }
    }
}

/// Splits a batch into rounds holding at most one record per partition key,
/// each key's records in their original order across rounds.
fn rounds(batch: &[Arc<Record>]) -> Vec<Vec<usize>> {
    let mut next_round: HashMap<&str, usize> = HashMap::new();
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    for (i, r) in batch.iter().enumerate() {
        let slot = next_round.entry(r.key.as_str()).or_insert(0);
        if rounds.len() <= *slot {
            rounds.push(Vec::new());
        }
        rounds[*slot].push(i);
        *slot += 1;
    }
    rounds
}

async fn connect_options(
    name: &str,
    cfg: &NatsConfig,
    metrics: &SinkMetrics,
) -> std::io::Result<ConnectOptions> {
    let up = metrics.up.clone();
    let sink = name.to_owned();
    let mut o = ConnectOptions::new()
        .name(format!("eventrelay:{name}"))
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(5))
        .request_timeout(Some(cfg.ack_timeout.get()))
        .event_callback(move |event| {
            let up = up.clone();
            let sink = sink.clone();
            async move {
                match event {
                    async_nats::Event::Connected => {
                        up.set(1);
                        info!(sink = %sink, "NATS connected");
                    }
                    async_nats::Event::Disconnected => {
                        up.set(0);
                        warn!(sink = %sink, "NATS disconnected; buffering");
                    }
                    other => info!(sink = %sink, event = %other, "NATS event"),
                }
            }
        });
    if let (Some(user), Some(password)) = (&cfg.user, &cfg.password) {
        o = o.user_and_password(user.clone(), password.expose().to_owned());
    }
    if let Some(token) = &cfg.token {
        o = o.token(token.expose().to_owned());
    }
    if let Some(seed) = &cfg.nkey {
        o = o.nkey(seed.expose().to_owned());
    }
    if let Some(path) = &cfg.credentials_file {
        o = o.credentials_file(path).await?;
    }
    if cfg.tls.required {
        o = o.require_tls(true);
    }
    if let Some(ca) = &cfg.tls.ca_file {
        o = o.add_root_certificates(ca.clone());
    }
    if let (Some(cert), Some(key)) = (&cfg.tls.cert_file, &cfg.tls.key_file) {
        o = o.add_client_certificate(cert.clone(), key.clone());
    }
    Ok(o)
}

impl Sink for NatsSink {
    async fn publish<'a>(&'a mut self, batch: &'a [Arc<Record>]) -> Result<(), PublishError> {
        if let Some(stream) = &self.streams_pending {
            self.create_streams(stream)
                .await
                .map_err(|e| PublishError::new(0, e))?;
            self.streams_pending = None;
        }
        match &self.jetstream {
            Some(js) => self.publish_jetstream(js, batch).await,
            None => self.publish_core(batch).await,
        }
    }

    fn max_payload(&self) -> usize {
        // Headers take a few hundred bytes of the server's max_payload; before
        // the first connection the server's limit is unknown: assume NATS's
        // default of 1 MiB.
        match self.client.server_info().max_payload {
            0 => DEFAULT_MAX_PAYLOAD - HEADER_ROOM,
            n => n.saturating_sub(HEADER_ROOM).max(HEADER_ROOM),
        }
    }

    fn redacts(&self) -> bool {
        self.redact
    }

    async fn close(&mut self) {
        if let Err(e) = tokio::time::timeout(self.ack_timeout, self.client.flush()).await {
            warn!(sink = %self.name, error = %e, "final flush timed out");
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::record::{Provider, RecordKind};

    fn rec(key: &str) -> Arc<Record> {
        Arc::new(Record {
            kind: RecordKind::Event,
            id: String::new(),
            key: key.into(),
            event_type: String::new(),
            source: String::new(),
            provider: Provider::Agnt5,
            subscription: Arc::from("s"),
            received_at_us: 0,
            payload: Bytes::new(),
            unredacted: None,
        })
    }

    #[test]
    fn rounds_keep_one_record_per_key() {
        let batch = [rec("a"), rec("a"), rec("b"), rec("a"), rec("c"), rec("b")];
        assert_eq!(rounds(&batch), vec![vec![0, 2, 4], vec![1, 5], vec![3]]);
    }
}
