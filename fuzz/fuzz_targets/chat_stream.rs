//! `ChatTranslator` (Chat Completions SSE → Anthropic events) on arbitrary upstream bytes:
//! the Anthropic stream grammar holds, any chunking gives the same events as the whole body,
//! an abort mid-stream still ends well-formed, nothing follows the terminal event, and the
//! non-streaming fold agrees with the stream's end.
//!
//! Input: 8 control bytes (`fuzz_support::split_ctrl`; `flags` bit 0 thinking, bit 2 abort
//! after `param` chunks, bit 3 renamed tools), then the upstream body.

#![no_main]

use fuzz_support::{check_translator, split_ctrl};
use libfuzzer_sys::fuzz_target;
use proxy_core::{ChatStreamOptions, ChatTranslator, ToolNames};

const LONG_TOOL: &str = "mcp__a_very_long_server_name_for_testing__and_an_even_longer_tool_name_x";

fuzz_target!(|data: &[u8]| {
    let (ctrl, body) = split_ctrl(data);
    let f = ctrl.flags;
    let opts = ChatStreamOptions {
        model: "claude-haiku-4-5".into(),
        thinking: f & 1 != 0,
        tool_names: if f & 8 != 0 {
            ToolNames::new(["server.tool", LONG_TOOL, "Bash"])
        } else {
            ToolNames::default()
        },
        upstream_model: "sim-chat-model".into(),
        seed: ctrl.seed,
    };
    let abort = (f & 4 != 0).then_some(usize::from(ctrl.param));
    check_translator(|| ChatTranslator::new(opts.clone()), &ctrl, body, abort);
});
