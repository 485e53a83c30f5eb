//! Frame → event never panics, always yields valid JSON, for both
//! providers, text and binary. `cargo fuzz run normalize_frame`.

#![no_main]

use std::sync::Arc;

use eventrelay::normalize::{frame_id, Frame, NormalizeConfig, Normalizer, StreamState};
use eventrelay::record::Provider;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let n = Normalizer::new(&NormalizeConfig::default(), true);
    for provider in Provider::ALL {
        let mut st = StreamState::new(
            Arc::from("fuzz"),
            provider,
            Arc::from("ws://h/ws"),
            Some("F".into()),
            Some("r".into()),
        );
        let frame = match std::str::from_utf8(data) {
            Ok(t) => Frame::Text(t),
            Err(_) => Frame::Binary(data),
        };
        let r = n.normalize(&mut st, frame, frame_id("fuzz", data), 0);
        assert!(serde_json::from_slice::<serde_json::Value>(&r.payload).is_ok());
    }
});
