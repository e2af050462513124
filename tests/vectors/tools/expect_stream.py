#!/usr/bin/env python3
"""Independent reference model of docs/CONVERSION.md §2 (Codex SSE -> Anthropic SSE) and §3
(non-streaming fold), used to produce and check the `expected` / `message` / `error` of the
stream vectors under tests/vectors/stream/.

Written from the spec text only; it imports nothing from the Rust project.

Usage:
  expect_stream.py DIR...          print the computed case for each vector directory
  expect_stream.py --write DIR...  fill expected/message/error into DIR/case.json
                                   (keeps description and options)
  expect_stream.py --check DIR...  compare DIR/case.json with the computed case
"""
import base64
import hashlib
import json
import re
import sys
from pathlib import Path

DEFAULTS = {"model": "claude-sonnet-4-5", "thinking": False, "tool_names": [],
            "upstream_model": "gpt-5.5", "account_tag": None, "seed": 0}

EOF_MESSAGE = "upstream stream ended before the response completed"


# ---------------------------------------------------------------- SSE framing (WHATWG rules)
def parse_sse(raw):
    """Yield ('comment', text) and ('event', name, data) in order."""
    text = raw.decode("utf-8")
    parts = re.split(r"\r\n|\r|\n", text)
    lines = parts[:-1]  # the last piece has no line terminator: incomplete, discarded
    out = []
    name, data = "", []
    for line in lines:
        if line == "":
            if data:
                out.append(("event", name or "message", "\n".join(data)))
            name, data = "", []
            continue
        if line.startswith(":"):
            out.append(("comment", line[1:]))
            continue
        if ":" in line:
            field, value = line.split(":", 1)
            if value.startswith(" "):
                value = value[1:]
        else:
            field, value = line, ""
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
        # id / retry / others: ignored
    return out


# ---------------------------------------------------------------- helpers
def wire_name(name):
    if re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name):
        return name
    sanitized = re.sub(r"[^a-zA-Z0-9_-]", "_", name)
    return sanitized[:55] + "_" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]


def envelope(upstream_model, account_tag, enc, summary_texts):
    p = {"v": 1, "m": upstream_model}
    if account_tag is not None:
        p["a"] = account_tag
    p["e"] = enc
    p["p"] = [len(s.encode("utf-8")) for s in summary_texts]
    js = json.dumps(p, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return "ccp1." + base64.urlsafe_b64encode(js).decode("ascii").rstrip("=")


ERROR_TYPES = {
    "context_length_exceeded": "invalid_request_error",
    "rate_limit_exceeded": "rate_limit_error",
    "usage_limit_reached": "rate_limit_error",
    "insufficient_quota": "rate_limit_error",
    "server_is_overloaded": "overloaded_error",
    "slow_down": "overloaded_error",
    "usage_not_included": "permission_error",
    "invalid_prompt": "invalid_request_error",
    "cyber_policy": "invalid_request_error",
    "invalid_encrypted_content": "invalid_request_error",
}


def error_object(code, message):
    if isinstance(message, str) and message:
        text = message
    elif isinstance(code, str) and code:
        text = code
    else:
        text = "upstream error"
    if code == "context_length_exceeded":
        text = "prompt is too long: " + text
    etype = ERROR_TYPES.get(code, "api_error") if isinstance(code, str) else "api_error"
    return {"type": "error", "error": {"type": etype, "message": text}}


def ev(name, data):
    return {"event": name, "data": data}


# ---------------------------------------------------------------- §2 translator
class Translator:
    def __init__(self, options):
        o = dict(DEFAULTS)
        o.update({k: v for k, v in options.items()})
        self.o = o
        self.names = {wire_name(n): n for n in o["tool_names"] or []}
        self.out = []
        self.started = False
        self.finished = False
        self.next_index = 0
        self.open = None          # (kind, item_key, index)
        self.items = {}           # item key -> state
        self.saw_refusal = False
        self.saw_tool_use = False

    # -- output helpers
    def emit(self, name, data):
        self.out.append(ev(name, data))

    def start_message(self, msg_id):
        self.started = True
        self.emit("message_start", {"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": self.o["model"],
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 0, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": 0}}})

    def seed_id(self):
        return "msg_" + format(int(self.o["seed"]), "024x")

    def ensure_started(self):
        if not self.started:
            self.start_message(self.seed_id())

    def open_block(self, kind, key, block):
        self.close()
        idx = self.next_index
        self.next_index += 1
        self.open = (kind, key, idx)
        self.emit("content_block_start", {"type": "content_block_start", "index": idx,
                                          "content_block": block})
        return idx

    def close(self):
        if self.open is not None:
            self.emit("content_block_stop", {"type": "content_block_stop", "index": self.open[2]})
            self.open = None

    def is_open(self, kind, key):
        return self.open is not None and self.open[0] == kind and self.open[1] == key

    def delta(self, d):
        self.emit("content_block_delta", {"type": "content_block_delta", "index": self.open[2],
                                          "delta": d})

    # -- event handling
    def comment(self):
        if self.started and not self.finished:
            self.emit("ping", {"type": "ping"})

    def event(self, data):
        if self.finished:
            return
        t = data.get("type")
        if t in ("response.created", "response.in_progress", "response.queued"):
            if not self.started:
                rid = (data.get("response") or {}).get("id")
                if isinstance(rid, str) and rid:
                    self.start_message("msg_" + (rid[5:] if rid.startswith("resp_") else rid))
                else:
                    self.start_message(self.seed_id())
            return
        self.ensure_started()
        key = data.get("item_id")
        if t == "response.output_item.added":
            item = data.get("item") or {}
            k = item.get("id")
            self.items[k] = {"type": item.get("type"), "streamed": False}
            if item.get("type") == "function_call":
                name = item.get("name")
                self.open_block("tool_use", k, {"type": "tool_use", "id": item.get("call_id"),
                                                "name": self.names.get(name, name), "input": {}})
                self.saw_tool_use = True
        elif t == "response.reasoning_summary_part.added":
            if self.o["thinking"] and data.get("summary_index", 0) > 0 and self.is_open("thinking", key):
                self.delta({"type": "thinking_delta", "thinking": "\n\n"})
        elif t == "response.reasoning_summary_text.delta":
            if self.o["thinking"]:
                if not self.is_open("thinking", key):
                    self.open_block("thinking", key, {"type": "thinking", "thinking": "", "signature": ""})
                self.delta({"type": "thinking_delta", "thinking": data.get("delta", "")})
        elif t in ("response.output_text.delta", "response.refusal.delta"):
            if t == "response.refusal.delta":
                self.saw_refusal = True
            if not self.is_open("text", key):
                self.open_block("text", key, {"type": "text", "text": ""})
            self.items.setdefault(key, {"type": "message", "streamed": False})["streamed"] = True
            self.delta({"type": "text_delta", "text": data.get("delta", "")})
        elif t == "response.function_call_arguments.delta":
            if self.is_open("tool_use", key):
                self.items[key]["streamed"] = True
                self.delta({"type": "input_json_delta", "partial_json": data.get("delta", "")})
        elif t == "response.output_item.done":
            self.item_done(data.get("item") or {})
        elif t in ("response.completed", "response.incomplete"):
            self.close()
            resp = data.get("response") or {}
            if t == "response.completed":
                stop = "refusal" if self.saw_refusal else ("tool_use" if self.saw_tool_use else "end_turn")
            else:
                reason = (resp.get("incomplete_details") or {}).get("reason")
                stop = "refusal" if reason == "content_filter" else "max_tokens"
            u = resp.get("usage") or {}
            inp = u.get("input_tokens") or 0
            cached = (u.get("input_tokens_details") or {}).get("cached_tokens") or 0
            outp = u.get("output_tokens") or 0
            self.emit("message_delta", {"type": "message_delta",
                                        "delta": {"stop_reason": stop, "stop_sequence": None},
                                        "usage": {"input_tokens": inp - cached,
                                                  "cache_creation_input_tokens": 0,
                                                  "cache_read_input_tokens": cached,
                                                  "output_tokens": outp}})
            self.emit("message_stop", {"type": "message_stop"})
            self.finished = True
        elif t == "response.failed":
            err = (data.get("response") or {}).get("error") or {}
            self.fail(error_object(err.get("code"), err.get("message")))
        elif t == "error":
            e = data.get("error") if isinstance(data.get("error"), dict) else data
            self.fail(error_object(e.get("code"), e.get("message")))
        # anything else: ignored

    def item_done(self, item):
        k = item.get("id")
        typ = item.get("type")
        st = self.items.get(k, {"type": typ, "streamed": False})
        if typ == "reasoning":
            if not self.o["thinking"]:
                return
            enc = item.get("encrypted_content")
            if isinstance(enc, str):
                if not self.is_open("thinking", k):
                    self.open_block("thinking", k, {"type": "thinking", "thinking": "", "signature": ""})
                texts = [p.get("text", "") for p in item.get("summary") or []
                         if p.get("type") == "summary_text"]
                self.delta({"type": "signature_delta", "signature": envelope(
                    self.o["upstream_model"], self.o["account_tag"], enc, texts)})
                self.close()
            elif self.is_open("thinking", k):
                self.close()
        elif typ == "message":
            parts = item.get("content") or []
            if any(p.get("type") == "refusal" for p in parts):
                self.saw_refusal = True
            if not st.get("streamed"):
                text = "".join(p.get("text", "") if p.get("type") == "output_text" else
                               p.get("refusal", "") if p.get("type") == "refusal" else ""
                               for p in parts)
                if text:
                    self.open_block("text", k, {"type": "text", "text": ""})
                    self.delta({"type": "text_delta", "text": text})
                    self.close()
            elif self.is_open("text", k):
                self.close()
        elif typ == "function_call":
            if not self.is_open("tool_use", k):
                name = item.get("name")
                self.open_block("tool_use", k, {"type": "tool_use", "id": item.get("call_id"),
                                                "name": self.names.get(name, name), "input": {}})
                self.saw_tool_use = True
            if not st.get("streamed") and item.get("arguments"):
                self.delta({"type": "input_json_delta", "partial_json": item["arguments"]})
            self.close()
        elif typ == "web_search_call":
            sid = "srvtoolu_" + (k[3:] if k.startswith("ws_") else k)
            action = item.get("action") or {}
            self.open_block("server_tool_use", k, {"type": "server_tool_use", "id": sid,
                                                   "name": "web_search", "input": {}})
            self.delta({"type": "input_json_delta", "partial_json": json.dumps(
                {"query": action.get("query")}, separators=(",", ":"), ensure_ascii=False)})
            self.close()
            content = [{"type": "web_search_result", "url": s["url"], "title": s["url"],
                        "encrypted_content": "", "page_age": None}
                       for s in action.get("sources") or [] if isinstance(s, dict) and s.get("url")]
            self.open_block("web_search_tool_result", k, {"type": "web_search_tool_result",
                                                          "tool_use_id": sid, "content": content})
            self.close()
        # other item types: nothing

    def fail(self, err):
        self.close()
        self.emit("error", err)
        self.finished = True

    def eof(self):
        if not self.finished:
            self.close()
            self.emit("error", {"type": "error", "error": {"type": "api_error", "message": EOF_MESSAGE}})
            self.finished = True


def translate(raw, options):
    t = Translator(options)
    for f in parse_sse(raw):
        if f[0] == "comment":
            t.comment()
            continue
        try:
            data = json.loads(f[2])
        except ValueError:
            continue  # not JSON: skipped (a degradation)
        if not isinstance(data, dict):
            continue
        t.event(data)
    t.eof()
    return t.out


# ---------------------------------------------------------------- §3 fold
def fold(events):
    msg, blocks, bufs = None, [], []
    for e in events:
        d = e["data"]
        n = e["event"]
        if n == "error":
            return None, d
        if n == "message_start":
            msg = json.loads(json.dumps(d["message"]))
        elif n == "content_block_start":
            blocks.append(json.loads(json.dumps(d["content_block"])))
            bufs.append("")
        elif n == "content_block_delta":
            b, dd = blocks[d["index"]], d["delta"]
            if dd["type"] == "text_delta":
                b["text"] += dd["text"]
            elif dd["type"] == "thinking_delta":
                b["thinking"] += dd["thinking"]
            elif dd["type"] == "signature_delta":
                b["signature"] = dd["signature"]
            elif dd["type"] == "input_json_delta":
                bufs[d["index"]] += dd["partial_json"]
        elif n == "message_delta":
            msg["stop_reason"] = d["delta"]["stop_reason"]
            msg["stop_sequence"] = d["delta"]["stop_sequence"]
            msg["usage"] = d["usage"]
    for b, buf in zip(blocks, bufs):
        if b["type"] in ("tool_use", "server_tool_use"):
            try:
                b["input"] = json.loads(buf) if buf else {}
            except ValueError:
                b["input"] = {}
    msg["content"] = blocks
    return msg, None


def compute(dirpath):
    d = Path(dirpath)
    case = json.loads((d / "case.json").read_text(encoding="utf-8"))
    raw = (d / "upstream.sse").read_bytes()
    events = translate(raw, case.get("options", {}))
    msg, err = fold(events)
    out = {"description": case.get("description", ""), "options": case.get("options", {}),
           "expected": events}
    if err is not None:
        out["error"] = err
    else:
        out["message"] = msg
    return case, out


def main(argv):
    mode = None
    if argv and argv[0] in ("--write", "--check"):
        mode, argv = argv[0], argv[1:]
    bad = 0
    for p in argv:
        case, out = compute(p)
        if mode == "--write":
            Path(p, "case.json").write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n",
                                            encoding="utf-8")
        elif mode == "--check":
            keys = ("expected", "message", "error")
            if any(case.get(k) != out.get(k) for k in keys):
                bad += 1
                print("MISMATCH", p)
                for i, (a, b) in enumerate(zip(case.get("expected", []), out["expected"])):
                    if a != b:
                        print("  first differing event", i, "\n   case:", json.dumps(a),
                              "\n   model:", json.dumps(b))
                        break
                else:
                    print("  lengths", len(case.get("expected", [])), len(out["expected"]),
                          "or message/error differ")
            else:
                print("ok", p)
        else:
            print(json.dumps(out, indent=2, ensure_ascii=False))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
