//! The Anthropic streaming grammar, checked on what a client received.

use serde_json::Value;

/// Parse `body` as Anthropic SSE and check its grammar; returns the event names in order.
/// Panics with the reason when the stream is not well formed.
pub fn check_anthropic_stream(body: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut open: Option<u64> = None;
    let mut next_index = 0u64;
    let mut started = false;
    let mut terminal = false;
    let mut delta_seen = false;
    for frame in body.split("\n\n").filter(|f| !f.is_empty()) {
        if frame.starts_with(':') {
            assert!(!started, "a comment after message_start: {frame:?}");
            continue;
        }
        let mut event = None;
        let mut data = None;
        for line in frame.lines() {
            if let Some(e) = line.strip_prefix("event: ") {
                event = Some(e.to_owned());
            } else if let Some(d) = line.strip_prefix("data: ") {
                data = Some(serde_json::from_str::<Value>(d).expect("data is JSON"));
            }
        }
        let (Some(event), Some(data)) = (event, data) else {
            panic!("frame without event or data: {frame:?}");
        };
        assert_eq!(
            data["type"].as_str(),
            Some(event.as_str()),
            "type matches the event name"
        );
        assert!(!terminal, "{event} after the terminal event");
        match event.as_str() {
            "message_start" => {
                assert!(!started, "second message_start");
                started = true;
            }
            "error" => terminal = true,
            _ => assert!(started, "{event} before message_start"),
        }
        match event.as_str() {
            "content_block_start" => {
                assert!(open.is_none(), "a block starts while another is open");
                assert_eq!(
                    data["index"].as_u64(),
                    Some(next_index),
                    "block indices in order"
                );
                open = Some(next_index);
                next_index += 1;
            }
            "content_block_delta" => {
                assert_eq!(
                    data["index"].as_u64(),
                    open,
                    "a delta outside its open block"
                )
            }
            "content_block_stop" => {
                assert_eq!(data["index"].as_u64(), open, "a stop of a block not open");
                open = None;
            }
            "message_delta" => {
                assert!(open.is_none(), "message_delta with a block open");
                delta_seen = true;
            }
            "message_stop" => {
                assert!(delta_seen, "message_stop without message_delta");
                terminal = true;
            }
            "error" => assert!(open.is_none(), "an error with a block still open"),
            "ping" | "message_start" => {}
            other => panic!("unknown event {other}"),
        }
        names.push(event);
    }
    names
}
