//! Frame → serialized canonical event, per core: a small (~300 B) and a
//! large (~8 KB) frame. `cargo bench --bench normalize`.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use eventrelay::normalize::{frame_id, Frame, NormalizeConfig, Normalizer, StreamState};
use eventrelay::record::Provider;

fn frames() -> [(&'static str, String); 2] {
    let small = r#"{"type":"task_end","data":{"timestamp":"2026-01-01T00:00:01.234Z","execution_id":"exec-42","details":{"task_id":"t7","task_name":"summarize","duration_ms":1750,"output":{"text":"a short answer of a few words, as LLM tasks return","tokens":42},"model":"gpt-4o","api_key":"sk-123"}}}"#.to_owned();
    let big_text = "lorem ipsum dolor sit amet ".repeat(280);
    let large = format!(
        r#"{{"event_type":"task_completed","task_id":"b29aa07f-9341-4ac5-9160-4f7e1f594654","task_name":"sentiment_analyzer","flow_name":"Customer_Support_Pipeline","run_name":"ticket_78453","timestamp":1756806132.567,"execution_time":5.33,"input":{{"config":{{"api_key":"sk-x"}},"text":"{big_text}"}},"output":{{"sentiment":"highly_negative","confidence":0.94,"key_issues":["a","b","c"]}}}}"#
    );
    [("small_300B", small), ("large_8KB", large)]
}

fn bench(c: &mut Criterion) {
    let n = Normalizer::new(&NormalizeConfig::default(), false);
    let mut group = c.benchmark_group("normalize");
    group.throughput(Throughput::Elements(1));
    for (name, frame) in frames() {
        let provider = if frame.contains("event_type") {
            Provider::Lyzr
        } else {
            Provider::Agnt5
        };
        let mut st = StreamState::new(
            Arc::from("bench"),
            provider,
            Arc::from("wss://run.agnt5.me/ws?x-wf-endpoint=bench"),
            Some("Customer_Support_Pipeline".into()),
            Some("ticket_78453".into()),
        );
        eprintln!("{name}: {} bytes", frame.len());
        group.bench_function(name, |b| {
            b.iter(|| {
                let id = frame_id("bench", frame.as_bytes());
                n.normalize(&mut st, Frame::Text(&frame), id, 1_756_806_132_601_000)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
