//! Subject templates: `workflow.events.{provider}.{execution_id}.{type}`
//! compiled once, rendered per record with token sanitizing.

use crate::record::Record;

/// A template token filled from the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Provider,
    ExecutionId,
    Type,
    Subscription,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Field(Field),
}

/// Why a template is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    /// `{name}` is not one of the known tokens.
    #[error(
        "unknown token {{{0}}} (known: {{provider}} {{execution_id}} {{type}} {{subscription}})"
    )]
    UnknownToken(String),
    /// A `{` without its `}`.
    #[error("unclosed '{{'")]
    Unclosed,
    /// Characters NATS never allows in a subject.
    #[error("the fixed part must not contain spaces, '*' or '>'")]
    IllegalLiteral,
}

/// A compiled subject template.
#[derive(Clone, Debug)]
pub struct SubjectTemplate {
    parts: Vec<Part>,
}

impl SubjectTemplate {
    /// Compiles `template`.
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(literal(&rest[..open])?));
            }
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or(TemplateError::Unclosed)?;
            let field = match &after[..close] {
                "provider" => Field::Provider,
                "execution_id" => Field::ExecutionId,
                "type" => Field::Type,
                "subscription" => Field::Subscription,
                other => return Err(TemplateError::UnknownToken(other.to_owned())),
            };
            parts.push(Part::Field(field));
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(literal(rest)?));
        }
        Ok(Self { parts })
    }

    /// The subject for `record`, every token sanitized.
    pub fn render(&self, record: &Record) -> String {
        let mut out = String::with_capacity(96);
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Field(f) => {
                    let value = match f {
                        Field::Provider => record.provider.as_str(),
                        Field::ExecutionId => record.key.as_str(),
                        Field::Type => record.event_type.as_str(),
                        Field::Subscription => &record.subscription,
                    };
                    push_sanitized(&mut out, value);
                }
            }
        }
        out
    }

    /// The stream subjects that capture every rendered subject: the fixed
    /// dot-separated prefix followed by `>`; `None` when the template starts
    /// with a token.
    pub fn stream_subject(&self) -> Option<String> {
        let Some(Part::Literal(first)) = self.parts.first() else {
            return None;
        };
        let whole_tokens = match (first.rfind('.'), self.parts.len()) {
            (_, 1) => return Some(first.clone()),
            (Some(dot), _) => &first[..dot],
            (None, _) => return None,
        };
        Some(format!("{whole_tokens}.>"))
    }
}

fn literal(s: &str) -> Result<String, TemplateError> {
    if s.chars().any(|c| c.is_whitespace() || c == '*' || c == '>') {
        return Err(TemplateError::IllegalLiteral);
    }
    Ok(s.to_owned())
}

/// Appends `value` as one subject token: `.`, `*`, `>`, whitespace and
/// control characters become `_`; an empty value becomes `_`.
fn push_sanitized(out: &mut String, value: &str) {
    if value.is_empty() {
        out.push('_');
        return;
    }
    for c in value.chars() {
        if c == '.' || c == '*' || c == '>' || c.is_whitespace() || c.is_control() {
            out.push('_');
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;

    use super::*;
    use crate::record::{Provider, RecordKind};

    fn record(key: &str, ty: &str) -> Record {
        Record {
            kind: RecordKind::Event,
            id: "0".repeat(32),
            key: key.into(),
            event_type: ty.into(),
            source: "ws://x".into(),
            provider: Provider::Lyzr,
            subscription: Arc::from("sub.1"),
            received_at_us: 0,
            payload: Bytes::new(),
            unredacted: None,
        }
    }

    #[test]
    fn renders_and_sanitizes() {
        let t = SubjectTemplate::parse("workflow.events.{provider}.{execution_id}.{type}").unwrap();
        let s = t.render(&record("Flow/run 1.x*>", "task.completed"));
        assert_eq!(s, "workflow.events.lyzr.Flow/run_1_x__.task_completed");
        assert_eq!(
            t.render(&record("", "unknown")),
            "workflow.events.lyzr._.unknown"
        );
        let d = SubjectTemplate::parse("eventrelay.dlq.{subscription}").unwrap();
        assert_eq!(d.render(&record("k", "")), "eventrelay.dlq.sub_1");
    }

    #[test]
    fn stream_subjects() {
        let t = SubjectTemplate::parse("workflow.events.{provider}.{type}").unwrap();
        assert_eq!(t.stream_subject().as_deref(), Some("workflow.events.>"));
        let t = SubjectTemplate::parse("events").unwrap();
        assert_eq!(t.stream_subject().as_deref(), Some("events"));
        let t = SubjectTemplate::parse("{provider}.x").unwrap();
        assert_eq!(t.stream_subject(), None);
        let t = SubjectTemplate::parse("ev{type}").unwrap();
        assert_eq!(t.stream_subject(), None);
    }

    #[test]
    fn rejects_bad_templates() {
        assert!(matches!(
            SubjectTemplate::parse("a.{nope}"),
            Err(TemplateError::UnknownToken(t)) if t == "nope"
        ));
        assert!(matches!(
            SubjectTemplate::parse("a.{type"),
            Err(TemplateError::Unclosed)
        ));
        assert!(SubjectTemplate::parse("a.*.{type}").is_err());
    }
}
