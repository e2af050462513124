//! `ResponsesTranslator` (Codex Responses SSE → Anthropic events) on arbitrary upstream
//! bytes: the Anthropic stream grammar holds, any chunking gives the same events as the whole
//! body, an abort mid-stream still ends well-formed, nothing follows the terminal event, and
//! the non-streaming fold agrees with the stream's end.
//!
//! Input: 8 control bytes (`fuzz_support::split_ctrl`; `flags` bit 0 thinking, bit 1 stop
//! sequences, bit 2 abort after `param` chunks, bit 3 renamed tools, bit 4 account tag), then
//! the upstream body.

#![no_main]

use fuzz_support::{check_translator, split_ctrl};
use libfuzzer_sys::fuzz_target;
use proxy_core::{ResponsesTranslator, StreamOptions, ToolNames};

const STOPS: &[&str] = &["\n\n", "END", "Hi", "o", "STOP here", "\u{fc}", "}"];
const LONG_TOOL: &str = "mcp__a_very_long_server_name_for_testing__and_an_even_longer_tool_name_x";

fuzz_target!(|data: &[u8]| {
    let (ctrl, body) = split_ctrl(data);
    let f = ctrl.flags;
    let opts = StreamOptions {
        model: "claude-sonnet-4-5".into(),
        thinking: f & 1 != 0,
        tool_names: if f & 8 != 0 {
            ToolNames::new(["server.tool", LONG_TOOL, "Bash"])
        } else {
            ToolNames::default()
        },
        upstream_model: "gpt-5.5".into(),
        account_tag: (f & 16 != 0).then(|| "acct-tag".to_owned()),
        seed: ctrl.seed,
        stop_sequences: if f & 2 != 0 {
            let i = usize::from(ctrl.param >> 4);
            vec![STOPS[i % STOPS.len()].to_owned(), STOPS[(i / 7 + 1) % STOPS.len()].to_owned()]
        } else {
            Vec::new()
        },
    };
    let abort = (f & 4 != 0).then_some(usize::from(ctrl.param));
    check_translator(|| ResponsesTranslator::new(opts.clone()), &ctrl, body, abort);
});
