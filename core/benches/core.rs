//! Criterion benchmarks of the two hot paths, each next to its bare baseline on the same
//! bytes in the same run:
//! - request: convert a ~400 KB Claude-Code-shaped request, for the Codex backend and for a
//!   Chat provider, vs `serde_json` parse + serialize;
//! - stream: translate a 10 000-event Codex stream vs the bare SSE decode of the same bytes,
//!   and vs SSE decode + `serde_json::Value` parse of every event.
//!
//! `cargo bench -p proxy-core --bench core` prints criterion's numbers and, at the end, the
//! throughputs and ratios recorded in docs/PERFORMANCE.md.

use criterion::{BatchSize, Criterion, Throughput};
use proxy_core::sse::{SseDecoder, SseItem};
use proxy_core::{
    ChatOptions, RequestOptions, ResponsesTranslator, StreamOptions, ToolNames,
    convert_chat_request, convert_chat_request_fast, convert_chat_request_value, convert_request,
    convert_request_fast,
};
use serde_json::{Value, json};
use std::hint::black_box;
use std::path::Path;

mod large_request;

fn vectors() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/request"
    ))
}

/// The two large Claude Code vectors' histories joined: ~400 KB, 12 real tools.
fn big_request() -> Vec<u8> {
    serde_json::to_vec(&large_request::large_request(vectors())).expect("serialize")
}

/// A 10 000-event stream: text deltas, then a tool call's argument deltas.
fn big_stream() -> (Vec<u8>, usize) {
    let mut out = String::new();
    let mut n = 0;
    let mut seq = 0;
    let mut ev = |out: &mut String, v: Value| {
        let ty = v["type"].as_str().unwrap_or("").to_owned();
        out.push_str(&format!("event: {ty}\ndata: {v}\n\n"));
        seq += 1;
        n += 1;
    };
    ev(
        &mut out,
        json!({"type":"response.created","sequence_number":0,"response":{"id":"resp_bench","status":"in_progress","output":[],"usage":null}}),
    );
    ev(
        &mut out,
        json!({"type":"response.output_item.added","output_index":0,"item":{"id":"msg_1","type":"message","status":"in_progress","content":[],"role":"assistant"}}),
    );
    for i in 0..6_000 {
        ev(
            &mut out,
            json!({"type":"response.output_text.delta","sequence_number":i,"item_id":"msg_1","output_index":0,"content_index":0,"delta":" token","logprobs":[],"obfuscation":"a1b2c3d4e5"}),
        );
    }
    ev(
        &mut out,
        json!({"type":"response.output_item.done","output_index":0,"item":{"id":"msg_1","type":"message","status":"completed","content":[{"type":"output_text","text":"…"}],"role":"assistant"}}),
    );
    ev(
        &mut out,
        json!({"type":"response.output_item.added","output_index":1,"item":{"id":"fc_1","type":"function_call","status":"in_progress","arguments":"","call_id":"call_1","name":"Bash"}}),
    );
    for i in 0..3_994 {
        ev(
            &mut out,
            json!({"type":"response.function_call_arguments.delta","sequence_number":i,"item_id":"fc_1","output_index":1,"delta":"{\\\"a\\\":","obfuscation":"x9y8z7"}),
        );
    }
    ev(
        &mut out,
        json!({"type":"response.output_item.done","output_index":1,"item":{"id":"fc_1","type":"function_call","status":"completed","arguments":"{}","call_id":"call_1","name":"Bash"}}),
    );
    ev(
        &mut out,
        json!({"type":"response.completed","response":{"id":"resp_bench","status":"completed","usage":{"input_tokens":1000,"input_tokens_details":{"cached_tokens":900},"output_tokens":50}}}),
    );
    (out.into_bytes(), n)
}

fn translate(bytes: &[u8]) -> usize {
    let mut t = ResponsesTranslator::new(StreamOptions {
        model: "claude-sonnet-4-5".into(),
        thinking: true,
        tool_names: ToolNames::default(),
        upstream_model: "gpt-5.5".into(),
        account_tag: None,
        seed: 1,
        stop_sequences: Vec::new(),
    });
    // As the host does: each upstream chunk's events are encoded into one buffer, sized from
    // the chunk (Anthropic events are smaller than Codex's), then handed to the socket (here:
    // `black_box`) and dropped.
    let mut count = 0;
    let mut out = Vec::with_capacity(32 * 1024);
    let mut drain = |t: &mut ResponsesTranslator, _hint: usize| {
        out.clear();
        while let Some(ev) = t.poll_event() {
            ev.encode(&mut out);
            count += 1;
        }
        black_box(&out);
    };
    for chunk in bytes.chunks(16 * 1024) {
        t.push(chunk);
        drain(&mut t, chunk.len());
    }
    t.finish();
    drain(&mut t, 1024);
    count
}

fn sse_only(bytes: &[u8]) -> usize {
    let mut d = SseDecoder::new();
    let mut n = 0;
    for chunk in bytes.chunks(16 * 1024) {
        d.push(chunk);
        while let Some(i) = d.poll() {
            n += black_box(matches!(i, SseItem::Event { .. })) as usize;
        }
    }
    n
}

/// SSE decode, then `check` on every event's data; how many passed.
fn sse_each(bytes: &[u8], check: impl Fn(&str) -> bool) -> usize {
    let mut d = SseDecoder::new();
    let mut n = 0;
    for chunk in bytes.chunks(16 * 1024) {
        d.push(chunk);
        while let Some(i) = d.poll() {
            if let SseItem::Event { data, .. } = i {
                n += black_box(check(&data)) as usize;
            }
        }
    }
    n
}

/// SSE decode plus a `serde_json::Value` parse of every event.
fn sse_value(bytes: &[u8]) -> usize {
    sse_each(bytes, |data| {
        serde_json::from_str::<Value>(data).is_ok_and(|v| v.is_object())
    })
}

/// SSE decode plus a serde_json validation of every event's JSON that keeps nothing: what a
/// translator that reads each event with serde_json pays at the least, so `sse_only /
/// sse_validate` is the best ratio such a translator could have. (Ours reads the per-token
/// events without serde: translate/delta_scan.rs.)
fn sse_validate(bytes: &[u8]) -> usize {
    sse_each(bytes, |data| {
        serde_json::from_str::<serde::de::IgnoredAny>(data).is_ok()
    })
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let req = big_request();
    let opts = RequestOptions::new("gpt-5.5");
    let chat = ChatOptions::new("kilo-auto/free");
    // What is measured is the fast path (`raw_history.rs`), which this request must take.
    assert!(
        convert_request_fast(&req, &opts).is_some(),
        "Codex: Value path"
    );
    assert!(
        convert_chat_request_fast(&req, &chat).is_some(),
        "Chat: Value path"
    );
    {
        let mut g = c.benchmark_group("request");
        g.throughput(Throughput::Bytes(req.len() as u64));
        g.bench_function("convert", |b| {
            b.iter(|| {
                let c = convert_request(black_box(&req), &opts).expect("converts");
                // Sized as the exchange sizes it: from the client's body.
                black_box(c.value.to_json_sized(req.len() + 4096).len())
            })
        });
        g.bench_function("convert_chat", |b| {
            b.iter(|| {
                let c = convert_chat_request(black_box(&req), &chat).expect("converts");
                black_box(c.value.to_json_sized(req.len() + 4096).len())
            })
        });
        // The same through the `Value` path, which the fast path replaces.
        g.bench_function("convert_chat_value", |b| {
            b.iter(|| {
                let v: Value = serde_json::from_slice(black_box(&req)).expect("json");
                let c = convert_chat_request_value(v, &chat).expect("converts");
                black_box(c.value.to_json_sized(req.len() + 4096).len())
            })
        });
        g.bench_function("baseline_serde_value_roundtrip", |b| {
            b.iter(|| {
                let v: Value = serde_json::from_slice(black_box(&req)).expect("json");
                black_box(serde_json::to_vec(&v).expect("ser").len())
            })
        });
        g.finish();
    }
    let (stream, events) = big_stream();
    {
        let mut g = c.benchmark_group("stream");
        g.throughput(Throughput::Elements(events as u64));
        g.bench_function("translate", |b| {
            b.iter_batched(
                || (),
                |()| translate(black_box(&stream)),
                BatchSize::SmallInput,
            )
        });
        g.bench_function("baseline_sse_decode", |b| {
            b.iter(|| sse_only(black_box(&stream)))
        });
        g.bench_function("baseline_sse_decode_json_validate", |b| {
            b.iter(|| sse_validate(black_box(&stream)))
        });
        g.bench_function("baseline_sse_decode_value_parse", |b| {
            b.iter(|| sse_value(black_box(&stream)))
        });
        g.finish();
    }
    c.final_summary();
    summary(req.len(), stream.len(), events);
}

/// Read criterion's point estimates back and print throughput and ratios.
fn summary(req_bytes: usize, stream_bytes: usize, events: usize) {
    let dir = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("criterion");
    let ns = |group: &str, name: &str| -> Option<f64> {
        let p = dir.join(group).join(name).join("new/estimates.json");
        let v: Value = serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
        v["median"]["point_estimate"].as_f64()
    };
    let (Some(conv), Some(base)) = (
        ns("request", "convert"),
        ns("request", "baseline_serde_value_roundtrip"),
    ) else {
        return;
    };
    let mbs = |bytes: usize, ns: f64| bytes as f64 / (ns / 1e9) / 1e6;
    println!("\n== summary ==");
    println!(
        "request {} KB: convert {:.0} MB/s ({:.3} ms), serde Value roundtrip {:.0} MB/s ({:.3} ms), ratio {:.2}",
        req_bytes / 1024,
        mbs(req_bytes, conv),
        conv / 1e6,
        mbs(req_bytes, base),
        base / 1e6,
        base / conv
    );
    if let (Some(chat), Some(value)) = (
        ns("request", "convert_chat"),
        ns("request", "convert_chat_value"),
    ) {
        println!(
            "request {} KB: convert for a Chat provider {:.0} MB/s ({:.3} ms), ratio to the roundtrip {:.2}; by the Value path {:.3} ms",
            req_bytes / 1024,
            mbs(req_bytes, chat),
            chat / 1e6,
            base / chat,
            value / 1e6
        );
    }
    if let (Some(tr), Some(sse), Some(check), Some(val)) = (
        ns("stream", "translate"),
        ns("stream", "baseline_sse_decode"),
        ns("stream", "baseline_sse_decode_json_validate"),
        ns("stream", "baseline_sse_decode_value_parse"),
    ) {
        let eps = |ns: f64| events as f64 / (ns / 1e9);
        println!(
            "stream {events} events ({} KB): translate {:.2} M events/s ({:.0} MB/s, {:.0} ns/event)",
            stream_bytes / 1024,
            eps(tr) / 1e6,
            mbs(stream_bytes, tr),
            tr / events as f64,
        );
        println!(
            "  bare SSE decode {:.2} M events/s: ratio {:.2} (goal >= 0.5; running serde_json over each event, even only to validate it, would cap it at {:.2})",
            eps(sse) / 1e6,
            sse / tr,
            sse / check,
        );
        println!(
            "  SSE decode + serde_json validate {:.2} M events/s: ratio {:.2}",
            eps(check) / 1e6,
            check / tr,
        );
        println!(
            "  SSE decode + serde_json Value parse {:.2} M events/s: ratio {:.2}",
            eps(val) / 1e6,
            val / tr,
        );
    }
}
