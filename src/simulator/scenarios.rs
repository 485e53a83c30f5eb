//! The seed scenarios: the vendors' documented example events, replayed
//! as the engines would send them (one JSON object per frame).

use crate::record::Provider;

/// A scripted run of one vendor's events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Lyzr's enterprise customer support pipeline (ends `flow_completed`).
    LyzrCustomerSupport,
    /// Lyzr's financial data pipeline (a failing task, ends `flow_error`).
    LyzrFinancialPipeline,
    /// An AGNT5 execution with workflow, task, LLM and tool events
    /// (`search-candidates`, the seed's example request).
    Agnt5SearchCandidates,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 3] = [
        Scenario::LyzrCustomerSupport,
        Scenario::LyzrFinancialPipeline,
        Scenario::Agnt5SearchCandidates,
    ];

    /// The vendor.
    pub const fn provider(self) -> Provider {
        match self {
            Scenario::Agnt5SearchCandidates => Provider::Agnt5,
            _ => Provider::Lyzr,
        }
    }

    /// A short name.
    pub const fn name(self) -> &'static str {
        match self {
            Scenario::LyzrCustomerSupport => "lyzr-customer-support",
            Scenario::LyzrFinancialPipeline => "lyzr-financial-pipeline",
            Scenario::Agnt5SearchCandidates => "agnt5-search-candidates",
        }
    }

    /// Lyzr `(flow_name, run_name)` to connect to.
    pub const fn lyzr_run(self) -> Option<(&'static str, &'static str)> {
        match self {
            Scenario::LyzrCustomerSupport => Some(("Customer_Support_Pipeline", "ticket_78453")),
            Scenario::LyzrFinancialPipeline => {
                Some(("Financial_Data_Pipeline", "daily_batch_20240215"))
            }
            Scenario::Agnt5SearchCandidates => None,
        }
    }

    /// AGNT5 endpoint to connect to.
    pub const fn agnt5_endpoint(self) -> Option<&'static str> {
        match self {
            Scenario::Agnt5SearchCandidates => Some("coffee-shop-e66b8d23"),
            _ => None,
        }
    }

    /// The frames, in order.
    pub fn frames(self) -> Vec<String> {
        let text = match self {
            Scenario::LyzrCustomerSupport => include_str!("seeds/lyzr-customer-support.jsonl"),
            Scenario::LyzrFinancialPipeline => include_str!("seeds/lyzr-financial-pipeline.jsonl"),
            Scenario::Agnt5SearchCandidates => include_str!("seeds/agnt5-search-candidates.jsonl"),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The Lyzr scenario for a flow/run, if it is a seed one.
    pub fn for_lyzr(flow: &str, run: &str) -> Option<Scenario> {
        Scenario::ALL
            .into_iter()
            .find(|s| s.lyzr_run() == Some((flow, run)))
    }
}

/// A generic Lyzr run for flows that are not seed scenarios.
pub fn generic_lyzr(flow: &str, run: &str) -> Vec<String> {
    let f = serde_json::to_string(flow).unwrap_or_default();
    let r = serde_json::to_string(run).unwrap_or_default();
    vec![
        format!(
            r#"{{"event_type":"flow_started","flow_name":{f},"run_name":{r},"timestamp":1756806300.0,"message":"Starting"}}"#
        ),
        format!(
            r#"{{"event_type":"task_started","task_id":"t1","task_name":"step_1","flow_name":{f},"run_name":{r},"timestamp":1756806300.5}}"#
        ),
        format!(
            r#"{{"event_type":"task_completed","task_id":"t1","task_name":"step_1","flow_name":{f},"run_name":{r},"timestamp":1756806301.5,"execution_time":1.0,"output":{{"ok":true}}}}"#
        ),
        format!(
            r#"{{"event_type":"flow_completed","flow_name":{f},"run_name":{r},"timestamp":1756806302.0,"total_execution_time":2.0,"output":{{"ok":true}}}}"#
        ),
    ]
}

/// The AGNT5 events answering a run request.
pub fn agnt5_run(execution_id: &str, name: &str, connection_id: &str) -> Vec<String> {
    let e = serde_json::to_string(execution_id).unwrap_or_default();
    let n = serde_json::to_string(name).unwrap_or_default();
    let c = serde_json::to_string(connection_id).unwrap_or_default();
    let now = crate::time::rfc3339_millis(crate::time::now_micros());
    ["execution_started", "task_start", "task_end", "execution_completed"]
        .iter()
        .map(|t| {
            format!(
                r#"{{"type":"{t}","data":{{"timestamp":"{now}","details":{{"name":{n},"connection_id":{c},"task_name":"run"}},"execution_id":{e}}}}}"#
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_json_objects_with_a_type() {
        for s in Scenario::ALL {
            let frames = s.frames();
            assert!(frames.len() >= 4, "{s:?}");
            for f in frames {
                let v: serde_json::Value = serde_json::from_str(&f).unwrap();
                let key = if s.provider() == Provider::Lyzr {
                    "event_type"
                } else {
                    "type"
                };
                assert!(v[key].is_string(), "{f}");
            }
        }
        for f in generic_lyzr("a\"b", "r")
            .into_iter()
            .chain(agnt5_run("e", "n", "c"))
        {
            serde_json::from_str::<serde_json::Value>(&f).unwrap();
        }
    }
}
