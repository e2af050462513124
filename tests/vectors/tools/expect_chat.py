#!/usr/bin/env python3
"""Independent reference model of docs/CONVERSION.md §6 (Anthropic Messages -> Chat Completions
request) and §7 (Chat Completions SSE -> Anthropic SSE, with the §3 non-streaming fold), used to
produce and check the vectors under tests/vectors/chat_request/ and tests/vectors/chat_stream/.

Written from the spec text only; it imports nothing from the Rust project. Where the spec leaves
a choice open, the reading taken is marked "READING:" below.

Usage:
  expect_chat.py PATH...          print the computed case (a chat_request/*.json file or a
                                  chat_stream/<name> directory)
  expect_chat.py --write PATH...  fill expected/degradations (request) or expected/message/error
                                  (stream) in place, keeping description, options and input
  expect_chat.py --check PATH...  compare the stored case with the computed one
"""
import base64
import copy
import hashlib
import json
import re
import sys
from pathlib import Path

# ================================================================ shared helpers

def wire_name(name):
    """§1.5 wire names."""
    if re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name):
        return name
    sanitized = re.sub(r"[^a-zA-Z0-9_-]", "_", name)
    return sanitized[:55] + "_" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class RequestError(Exception):
    pass


# ================================================================ §6 request

REQ_DEFAULTS = {"max_tokens_field": "max_tokens", "reasoning_style": "openrouter"}
BILLING = "x-anthropic-billing-header:"
NO_RESULT = "No result: the tool call was interrupted."
DROPPED_TOP = {"metadata", "context_management", "service_tier", "container", "mcp_servers",
               "inference_geo", "speed"}
HANDLED_TOP = {"model", "stream", "cache_control", "messages", "system", "tools", "tool_choice",
               "max_tokens", "stop_sequences", "temperature", "top_p", "top_k", "thinking",
               "output_config"}
SERVER_BLOCKS_PREFIX = ("server_tool_use", "web_search_tool_result", "web_fetch_tool_result",
                        "code_execution_tool_result", "bash_code_execution_tool_result",
                        "text_editor_code_execution_tool_result", "tool_search_tool_result",
                        "mcp_tool_use", "mcp_tool_result")


class ChatRequest:
    def __init__(self, req, options):
        self.req = req
        o = dict(REQ_DEFAULTS)
        o.update(options)
        self.o = o
        self.deg = []

    def d(self, path, kind):
        self.deg.append({"path": path, "kind": kind})

    # ---------------------------------------------------------- validation (§1.8)
    def validate(self):
        r = self.req
        if not isinstance(r, dict):
            raise RequestError("not an object")
        msgs = r.get("messages")
        if not isinstance(msgs, list):
            raise RequestError("messages")
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in ("user", "assistant", "system"):
                raise RequestError(f"messages.{i}.role")
            c = m.get("content")
            if isinstance(c, str):
                continue
            if not isinstance(c, list):
                raise RequestError(f"messages.{i}.content")
            for j, b in enumerate(c):
                if not isinstance(b, dict) or not isinstance(b.get("type"), str):
                    raise RequestError(f"messages.{i}.content.{j}.type")
                if b["type"] == "tool_use" and (not isinstance(b.get("id"), str)
                                                or not isinstance(b.get("name"), str)):
                    raise RequestError(f"messages.{i}.content.{j}")
        for i, t in enumerate(r.get("tools") or []):
            if not isinstance(t, dict) or not isinstance(t.get("name"), str):
                raise RequestError(f"tools.{i}.name")

    # ---------------------------------------------------------- system (§1.3)
    def system_text(self):
        s = self.req.get("system")
        if s is None:
            return ""
        if isinstance(s, str):
            return s
        texts = []
        for i, b in enumerate(s):
            if b.get("type") == "text":
                if b.get("text", "").startswith(BILLING):
                    self.d(f"system[{i}]", "dropped")
                else:
                    texts.append(b.get("text", ""))
            else:
                self.d(f"system[{i}]", "unsupported")
        return "\n\n".join(texts)

    # ---------------------------------------------------------- tool_result text (§1.4 string form)
    def tool_result(self, b, i, j):
        """Returns (text, moved image parts)."""
        c = b.get("content")
        texts, images = [], []
        if c is None:
            pass
        elif isinstance(c, str):
            texts.append(c)
        else:
            for k, cb in enumerate(c):
                t = cb.get("type")
                if t == "text":
                    texts.append(cb.get("text", ""))
                elif t == "tool_reference":
                    texts.append(f"Tool {cb.get('tool_name')} loaded.")
                elif t == "image":
                    part = self.image_part(cb)
                    if part is not None:
                        images.append(part)
                        self.d(f"messages[{i}].content[{j}].content[{k}]", "approximated")
                    else:
                        self.d(f"messages[{i}].content[{j}].content[{k}]", "unsupported")
                else:
                    self.d(f"messages[{i}].content[{j}].content[{k}]", "unsupported")
        text = "\n".join(texts)
        if b.get("is_error") is True:
            text = ("Error: " + text) if text else "Error"
            self.d(f"messages[{i}].content[{j}].is_error", "approximated")
        return text, images

    @staticmethod
    def image_part(b):
        src = b.get("source") or {}
        if src.get("type") == "base64":
            return {"type": "image_url", "image_url": {
                "url": f"data:{src.get('media_type')};base64,{src.get('data')}"}}
        if src.get("type") == "url":
            return {"type": "image_url", "image_url": {"url": src.get("url")}}
        return None

    # ---------------------------------------------------------- messages
    def convert_messages(self):
        msgs = self.req["messages"]
        call_ids, result_ids = set(), set()
        for m in msgs:
            if isinstance(m.get("content"), list):
                for b in m["content"]:
                    if m["role"] == "assistant" and b.get("type") == "tool_use":
                        call_ids.add(b["id"])
                    if m["role"] == "user" and b.get("type") == "tool_result":
                        result_ids.add(b.get("tool_use_id"))
        out = []
        # unanswered calls waiting for "the other tool messages of their turn"
        pending = []  # list of (id, degradation path)

        def flush_pending():
            for cid, path in pending:
                out.append({"role": "tool", "tool_call_id": cid, "content": NO_RESULT})
                self.d(path, "defaulted")
            pending.clear()

        for i, m in enumerate(msgs):
            role, c = m["role"], m["content"]
            if role == "system":
                flush_pending()
                text = c if isinstance(c, str) else "\n\n".join(
                    b.get("text", "") for b in c if b.get("type") == "text")
                out.append({"role": "system", "content": text})
            elif role == "user":
                if isinstance(c, str):
                    flush_pending()
                    out.append({"role": "user", "content": c})
                    continue
                tool_msgs, moved, parts = [], [], []
                only_text_blocks = True
                for j, b in enumerate(c):
                    t = b["type"]
                    if t == "tool_result":
                        text, imgs = self.tool_result(b, i, j)
                        moved.extend(imgs)
                        tid = b.get("tool_use_id")
                        if tid in call_ids:
                            tool_msgs.append({"role": "tool", "tool_call_id": tid, "content": text})
                        else:
                            # READING: an orphan result becomes a user message with string
                            # content, in the place its tool message would have had.
                            tool_msgs.append({"role": "user",
                                              "content": f"Result of tool call {tid}:\n{text}"})
                            self.d(f"messages[{i}].content[{j}]", "approximated")
                        continue
                    part = self.user_part(b, i, j)
                    if part is None:
                        continue
                    if t != "text":
                        only_text_blocks = False
                    parts.append(part)
                out.extend(tool_msgs)
                flush_pending()
                all_parts = moved + parts
                if not all_parts:
                    continue
                if not moved and len(parts) == 1 and only_text_blocks:
                    out.append({"role": "user", "content": parts[0]["text"]})
                else:
                    out.append({"role": "user", "content": all_parts})
            else:  # assistant
                flush_pending()
                if isinstance(c, str):
                    out.append({"role": "assistant", "content": c})
                    continue
                texts, calls, thoughts = [], [], []
                for j, b in enumerate(c):
                    t = b["type"]
                    if t == "text":
                        if b.get("text", "") != "":
                            texts.append(b["text"])
                    elif t == "tool_use":
                        calls.append({"id": b["id"], "type": "function", "function": {
                            "name": wire_name(b["name"]), "arguments": compact(b.get("input", {}))}})
                        if b["id"] not in result_ids:
                            pending.append((b["id"], f"messages[{i}].content[{j}]"))
                    elif t == "thinking":
                        thoughts.append(b.get("thinking", ""))
                    elif t == "redacted_thinking" or t in SERVER_BLOCKS_PREFIX \
                            or t.endswith("_tool_result"):
                        self.d(f"messages[{i}].content[{j}]", "dropped")
                    else:
                        self.d(f"messages[{i}].content[{j}]", "unsupported")
                msg = {"role": "assistant"}
                if texts:
                    msg["content"] = "\n\n".join(texts)
                else:
                    msg["content"] = None if calls else ""
                if calls:
                    msg["tool_calls"] = calls
                if thoughts:
                    msg["reasoning_content"] = "\n\n".join(thoughts)
                out.append(msg)
        flush_pending()
        return out

    def user_part(self, b, i, j):
        t = b["type"]
        if t == "text":
            return {"type": "text", "text": b.get("text", "")}
        if t == "image":
            p = self.image_part(b)
            if p is None:
                self.d(f"messages[{i}].content[{j}]", "unsupported")
            return p
        if t == "document":
            src = b.get("source") or {}
            st = src.get("type")
            if st == "base64":
                return {"type": "file", "file": {
                    "filename": b.get("title") or "document.pdf",
                    "file_data": f"data:{src.get('media_type')};base64,{src.get('data')}"}}
            if st == "text":
                data = src.get("data", "")
                title = b.get("title")
                return {"type": "text", "text": f"{title}\n\n{data}" if title else data}
            self.d(f"messages[{i}].content[{j}]", "unsupported")
            return None
        if t in ("thinking", "redacted_thinking"):
            self.d(f"messages[{i}].content[{j}]", "dropped")
            return None
        self.d(f"messages[{i}].content[{j}]", "unsupported")
        return None

    # ---------------------------------------------------------- tools (§1.5 / §6)
    def convert_tools(self):
        sent = []
        for i, t in enumerate(self.req.get("tools") or []):
            typ = t.get("type")
            if typ is not None and typ != "custom":
                self.d(f"tools[{i}]", "unsupported")
                continue
            schema = copy.deepcopy(t.get("input_schema") or {})
            schema.pop("$schema", None)
            if "type" not in schema:
                schema = {"type": "object", **schema}
            if schema.get("type") == "object" and "properties" not in schema:
                schema["properties"] = {}
            if t.get("strict") is True:
                self.d(f"tools[{i}].strict", "approximated")
            if t.get("defer_loading") is True:
                self.d(f"tools[{i}].defer_loading", "approximated")
            if "input_examples" in t:
                self.d(f"tools[{i}].input_examples", "dropped")
            sent.append({"type": "function", "function": {
                "name": wire_name(t["name"]), "description": t.get("description") or "",
                "parameters": schema}})
        return sent

    # ---------------------------------------------------------- thinking (§6)
    def effort_clamped(self, e):
        if e in ("max", "xhigh"):
            self.d("output_config.effort", "approximated")
            return "high"
        return e

    def reasoning(self):
        style = self.o["reasoning_style"]
        th = self.req.get("thinking")
        ttype = th.get("type") if isinstance(th, dict) else None
        oc = self.req.get("output_config")
        effort = oc.get("effort") if isinstance(oc, dict) else None
        if style == "none":
            if ttype in ("enabled", "adaptive"):
                self.d("thinking", "dropped")
            elif ttype is None and effort is not None:
                # READING: an effort-only request is a thinking request, recorded at its field.
                self.d("output_config.effort", "dropped")
            elif ttype == "disabled" and effort is not None:
                self.d("output_config.effort", "dropped")
            return None
        if ttype == "disabled":
            if effort is not None:
                self.d("output_config.effort", "dropped")
            return ("reasoning", {"enabled": False}) if style == "openrouter" else None
        if ttype == "enabled":
            b = th.get("budget_tokens")
            if style == "openrouter":
                return ("reasoning", {"max_tokens": b})
            return ("reasoning_effort", "low" if b < 4000 else "medium" if b < 16000 else "high")
        if ttype == "adaptive" or effort is not None:
            e = self.effort_clamped(effort) if effort is not None else "medium"
            if style == "openrouter":
                return ("reasoning", {"effort": e})
            return ("reasoning_effort", e)
        return None

    # ---------------------------------------------------------- body
    def convert(self):
        self.validate()
        r = self.req
        body = {"model": self.o["upstream_model"]}
        messages = []
        sys_text = self.system_text()
        if sys_text:
            messages.append({"role": "system", "content": sys_text})
        messages.extend(self.convert_messages())
        body["messages"] = messages
        tools = self.convert_tools()
        if tools:
            body["tools"] = tools
            tc = r.get("tool_choice") or {}
            ct = tc.get("type", "auto")
            if ct == "any":
                body["tool_choice"] = "required"
            elif ct == "tool":
                body["tool_choice"] = {"type": "function",
                                       "function": {"name": wire_name(tc["name"])}}
            elif ct == "none":
                body["tool_choice"] = "none"
            else:
                body["tool_choice"] = "auto"
            # READING: with tools sent, parallel_tool_calls defaults to true (as §1.2).
            body["parallel_tool_calls"] = not (tc.get("disable_parallel_tool_use") is True)
        if "max_tokens" in r:
            body[self.o["max_tokens_field"]] = r["max_tokens"]
        if r.get("stop_sequences"):
            body["stop"] = r["stop_sequences"]
        for k in ("temperature", "top_p"):
            if k in r:
                body[k] = r[k]
        if "top_k" in r:
            self.d("top_k", "dropped")
        reasoning = self.reasoning()
        if reasoning is not None:
            body[reasoning[0]] = reasoning[1]
        oc = r.get("output_config")
        if isinstance(oc, dict):
            for k in oc:
                if k != "effort":
                    self.d(f"output_config.{k}", "dropped")
        for k in r:
            if k in HANDLED_TOP:
                continue
            self.d(k, "dropped")  # DROPPED_TOP and any unknown key alike
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        return body


def compute_request(path):
    case = json.loads(Path(path).read_text(encoding="utf-8"))
    out = {"description": case.get("description", ""), "options": case.get("options", {})}
    if "request_raw" in case:
        out["request_raw"] = case["request_raw"]
        try:
            req = json.loads(case["request_raw"])
        except ValueError:
            out["expected_error"] = {"type": "invalid_request_error"}
            out["degradations"] = []
            return case, out
    else:
        out["request"] = case["request"]
        req = case["request"]
    conv = ChatRequest(req, case.get("options", {}))
    try:
        out["expected"] = conv.convert()
        out["degradations"] = conv.deg
    except RequestError:
        out["expected_error"] = {"type": "invalid_request_error"}
        out["degradations"] = []
    return case, out


# ================================================================ §7 stream

STREAM_DEFAULTS = {"model": "claude-sonnet-4-5", "thinking": False, "tool_names": [],
                   "upstream_model": "gpt-5.5", "seed": 0}
EOF_MESSAGE = "upstream stream ended before the response completed"
FINISH = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens",
          "content_filter": "refusal"}
NUMERIC_ERRORS = {400: "invalid_request_error", 401: "authentication_error",
                  403: "permission_error", 429: "rate_limit_error", 503: "overloaded_error",
                  529: "overloaded_error"}
STRING_ERRORS = {
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


def parse_sse(raw):
    """WHATWG framing: ('comment',) and ('event', data) in order."""
    text = raw.decode("utf-8")
    lines = re.split(r"\r\n|\r|\n", text)[:-1]
    out, data = [], []
    for line in lines:
        if line == "":
            if data:
                out.append(("event", "\n".join(data)))
            data = []
            continue
        if line.startswith(":"):
            out.append(("comment",))
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            data.append(value)
    return out


def chat_signature(upstream_model):
    p = compact({"v": 1, "m": upstream_model}).encode("utf-8")
    return "ccpc1." + base64.urlsafe_b64encode(p).decode("ascii").rstrip("=")


def error_object(code, message):
    if isinstance(message, str) and message:
        text = message
    elif code is not None and code != "":
        text = str(code)
    else:
        text = "upstream error"
    if isinstance(code, bool):
        etype = "api_error"
    elif isinstance(code, int):
        etype = NUMERIC_ERRORS.get(code, "api_error")
    elif isinstance(code, str):
        etype = STRING_ERRORS.get(code, "api_error")
    else:
        etype = "api_error"
    if code == "context_length_exceeded":
        text = "prompt is too long: " + text
    return {"type": "error", "error": {"type": etype, "message": text}}


class ChatStream:
    def __init__(self, options):
        o = dict(STREAM_DEFAULTS)
        o.update(options)
        self.o = o
        self.names = {wire_name(n): n for n in o["tool_names"] or []}
        self.out = []
        self.started = False
        self.finished = False
        self.next_index = 0
        self.open = None          # (kind, index)
        self.calls = {}           # tool index -> state
        self.live = None          # tool index whose block is open
        self.finish = None
        self.saw_tool_use = False
        self.usage = (0, 0, 0)    # input, cached, output

    def emit(self, name, data):
        self.out.append({"event": name, "data": data})

    def start_message(self, chunk_id):
        self.started = True
        mid = ("msg_" + chunk_id) if isinstance(chunk_id, str) and chunk_id else \
            "msg_" + format(int(self.o["seed"]), "024x")
        self.emit("message_start", {"type": "message_start", "message": {
            "id": mid, "type": "message", "role": "assistant", "model": self.o["model"],
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 0, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": 0}}})

    def open_block(self, kind, block):
        self.close()
        idx = self.next_index
        self.next_index += 1
        self.open = (kind, idx)
        self.emit("content_block_start", {"type": "content_block_start", "index": idx,
                                          "content_block": block})

    def delta(self, d):
        self.emit("content_block_delta", {"type": "content_block_delta", "index": self.open[1],
                                          "delta": d})

    def close(self):
        if self.open is None:
            return
        kind, idx = self.open
        if kind == "thinking":
            self.delta({"type": "signature_delta",
                        "signature": chat_signature(self.o["upstream_model"])})
        if kind == "tool_use":
            self.live = None
        self.emit("content_block_stop", {"type": "content_block_stop", "index": idx})
        self.open = None

    def start_tool(self, idx):
        st = self.calls[idx]
        self.open_block("tool_use", {"type": "tool_use", "id": st["id"],
                                     "name": self.names.get(st["name"], st["name"]),
                                     "input": {}})
        self.saw_tool_use = True
        st["started"] = True
        self.live = idx

    # -------------------------------------------------------------- inputs
    def comment(self):
        if self.started and not self.finished:
            self.emit("ping", {"type": "ping"})

    def done(self):
        if self.finished:
            return
        if not self.started:
            self.start_message(None)
        self.complete()

    def chunk(self, c):
        if self.finished:
            return
        if not self.started:
            self.start_message(c.get("id"))
        err = c.get("error")
        if isinstance(err, dict):
            self.close()
            code = err.get("code")
            if code is None:
                code = err.get("type")
            self.emit("error", error_object(code, err.get("message")))
            self.finished = True
            return
        u = c.get("usage")
        if isinstance(u, dict):
            pt = u.get("prompt_tokens") or 0
            cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
            self.usage = (pt - cached, cached, u.get("completion_tokens") or 0)
        for ch in c.get("choices") or []:
            d = ch.get("delta") or {}
            r = d.get("reasoning_content")
            if not isinstance(r, str) or r == "":
                r = d.get("reasoning")
            if self.o["thinking"] and isinstance(r, str) and r != "":
                if self.open is None or self.open[0] != "thinking":
                    self.open_block("thinking", {"type": "thinking", "thinking": "",
                                                 "signature": ""})
                self.delta({"type": "thinking_delta", "thinking": r})
            t = d.get("content")
            if isinstance(t, str) and t != "":
                if self.open is None or self.open[0] != "text":
                    self.open_block("text", {"type": "text", "text": ""})
                self.delta({"type": "text_delta", "text": t})
            for tc in d.get("tool_calls") or []:
                idx = tc.get("index", 0)
                st = self.calls.setdefault(idx, {"id": None, "name": None, "pending": [],
                                                 "started": False})
                if isinstance(tc.get("id"), str) and tc["id"]:
                    st["id"] = tc["id"]
                fn = tc.get("function") or {}
                if isinstance(fn.get("name"), str) and fn["name"]:
                    st["name"] = fn["name"]
                piece = fn.get("arguments")
                piece = piece if isinstance(piece, str) else ""
                if self.live == idx:
                    if piece:
                        self.delta({"type": "input_json_delta", "partial_json": piece})
                    continue
                if piece:
                    st["pending"].append(piece)
                if (not st["started"] and self.live is None and st["id"] and st["name"]):
                    self.start_tool(idx)
                    for p in st["pending"]:
                        self.delta({"type": "input_json_delta", "partial_json": p})
                    st["pending"] = []
            fr = ch.get("finish_reason")
            if isinstance(fr, str) and fr:
                self.finish = fr

    def complete(self):
        self.close()
        for idx in sorted(self.calls):
            st = self.calls[idx]
            if st["started"]:
                continue
            self.start_tool(idx)
            args = "".join(st["pending"])
            if args:
                self.delta({"type": "input_json_delta", "partial_json": args})
            self.close()
        stop = FINISH.get(self.finish, "end_turn")
        if self.saw_tool_use:
            stop = "tool_use"
        inp, cached, outp = self.usage
        self.emit("message_delta", {"type": "message_delta",
                                    "delta": {"stop_reason": stop, "stop_sequence": None},
                                    "usage": {"input_tokens": inp,
                                              "cache_creation_input_tokens": 0,
                                              "cache_read_input_tokens": cached,
                                              "output_tokens": outp}})
        self.emit("message_stop", {"type": "message_stop"})
        self.finished = True

    def eof(self):
        if self.finished:
            return
        if self.finish is not None:
            self.complete()
            return
        self.close()
        self.emit("error", {"type": "error", "error": {"type": "api_error",
                                                       "message": EOF_MESSAGE}})
        self.finished = True


def translate(raw, options):
    t = ChatStream(options)
    for f in parse_sse(raw):
        if f[0] == "comment":
            t.comment()
            continue
        data = f[1]
        if data.strip() == "[DONE]":
            t.done()
            continue
        try:
            obj = json.loads(data)
        except ValueError:
            continue  # skipped, a degradation
        if isinstance(obj, dict):
            t.chunk(obj)
    t.eof()
    return t.out


def fold(events):
    msg, blocks, bufs = None, [], []
    for e in events:
        d, n = e["data"], e["event"]
        if n == "error":
            return None, d
        if n == "message_start":
            msg = copy.deepcopy(d["message"])
        elif n == "content_block_start":
            blocks.append(copy.deepcopy(d["content_block"]))
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
        if b["type"] == "tool_use":
            try:
                b["input"] = json.loads(buf) if buf else {}
            except ValueError:
                b["input"] = {}
    msg["content"] = blocks
    return msg, None


def compute_stream(dirpath):
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


# ================================================================ main

def main(argv):
    mode = None
    if argv and argv[0] in ("--write", "--check"):
        mode, argv = argv[0], argv[1:]
    bad = 0
    for p in argv:
        is_stream = Path(p).is_dir()
        case, out = compute_stream(p) if is_stream else compute_request(p)
        target = Path(p, "case.json") if is_stream else Path(p)
        if mode == "--write":
            target.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n",
                              encoding="utf-8")
        elif mode == "--check":
            keys = ("expected", "message", "error") if is_stream else \
                ("expected", "expected_error")
            same = all(case.get(k) == out.get(k) for k in keys)
            if not is_stream:
                key = lambda x: (x["path"], x["kind"])
                same = same and sorted(map(key, case.get("degradations", []))) == \
                    sorted(map(key, out.get("degradations", [])))
            if same:
                print("ok", p)
            else:
                bad += 1
                print("MISMATCH", p)
        else:
            print(json.dumps(out, indent=2, ensure_ascii=False))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
