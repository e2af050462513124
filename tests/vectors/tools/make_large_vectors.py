#!/usr/bin/env python3
"""Build the Claude Code request vectors under tests/vectors/request/b_*.json.

Written from docs/CONVERSION.md section 1 only (plus the protocol notes in ../shared); it does not
import, call or read anything from the Rust project. It

  * builds two large requests (200-500 KB) deterministically from the real Claude Code
    fixtures in ../shared/fixtures/claude-code/ by growing their history with many realistic
    turns, and
  * computes the expected Codex body and degradations of every vector with its own
    implementation of CONVERSION.md section 1 (`convert` below).

Usage:
    python3 tests/vectors/tools/make_large_vectors.py            # writes the two large vectors
    python3 tests/vectors/tools/make_large_vectors.py --all      # also the ten small b_* vectors
    python3 tests/vectors/tools/make_large_vectors.py --check    # recompute and compare, write nothing

The fixture directory can be given with CCP_FIXTURES=/path/to/fixtures/claude-code.
Output is deterministic: same fixtures, same bytes.
"""
import base64
import copy
import hashlib
import json
import os
import random
import re
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REQUEST_DIR = os.path.normpath(os.path.join(HERE, "..", "request"))
FIXTURES = os.environ.get("CCP_FIXTURES") or os.path.normpath(
    os.path.join(HERE, "..", "..", "..", "..", "shared", "fixtures", "claude-code"))

DEFAULT_EFFORTS = ["low", "medium", "high", "xhigh"]
# Ordering used to clamp an effort into the allowed list (CONVERSION.md 1.6).
EFFORT_ORDER = ["none", "minimal", "low", "medium", "high", "xhigh", "max"]

WIRE_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
BILLING_PREFIX = "x-anthropic-billing-header:"


# --------------------------------------------------------------------------------------------
# CONVERSION.md section 1, implemented independently
# --------------------------------------------------------------------------------------------

def compact(value):
    """Compact JSON, raw UTF-8, keys in the order received (serde_json's compact form)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def shorten(name):
    """1.5 wire names: replace chars outside [a-zA-Z0-9_-] by '_', first 55, '_' + sha256[:8]."""
    replaced = re.sub(r"[^a-zA-Z0-9_-]", "_", name)
    return replaced[:55] + "_" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]


def wire_name(name):
    if WIRE_NAME_RE.fullmatch(name):
        return name
    return shorten(name)


def call_id(raw):
    """1.4 call ids: at most 64 characters as is, a longer one shortened like a tool name."""
    if len(raw) <= 64:
        return raw
    return shorten(raw)


def b64url_nopad(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_envelope(model, encrypted, parts, account=None):
    """1.6 signature envelope: ccp1. + base64url_nopad(compact {"v","m","a"?,"e","p"})."""
    payload = {"v": 1, "m": model}
    if account is not None:
        payload["a"] = account
    payload["e"] = encrypted
    payload["p"] = [len(p.encode("utf-8")) for p in parts]
    return "ccp1." + b64url_nopad(compact(payload).encode("utf-8"))


def decode_envelope(sig):
    if not isinstance(sig, str) or not sig.startswith("ccp1."):
        return None
    body = sig[len("ccp1."):]
    if not re.fullmatch(r"[A-Za-z0-9_-]*", body) or len(body) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        obj = json.loads(raw.decode("utf-8"))
    except Exception:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("e"), str):
        return None
    return obj


def split_summary(text, lengths):
    """Split the thinking text back into summary parts by byte lengths (parts joined by \\n\\n)."""
    if text == "":
        return []
    data = text.encode("utf-8")
    ok = isinstance(lengths, list) and len(lengths) > 0 and all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in lengths)
    parts = []
    if ok:
        pos = 0
        for k, n in enumerate(lengths):
            if k > 0:
                if data[pos:pos + 2] != b"\n\n":
                    ok = False
                    break
                pos += 2
            chunk = data[pos:pos + n]
            if len(chunk) != n:
                ok = False
                break
            try:
                parts.append(chunk.decode("utf-8"))
            except UnicodeDecodeError:
                ok = False
                break
            pos += n
        if ok and pos != len(data):
            ok = False
    if not ok:
        parts = [text]
    return [{"type": "summary_text", "text": p} for p in parts]


def convert(req, options):
    """Return (codex_body, degradations) for an Anthropic request, per CONVERSION.md 1."""
    deg = []

    def d(path, kind):
        deg.append({"path": path, "kind": kind})

    upstream = options["upstream_model"]
    default_effort = options.get("effort") or "medium"
    efforts = options.get("efforts") or DEFAULT_EFFORTS
    session_opt = options.get("session_id")
    account = options.get("account_tag")

    # 1.3 system -> instructions
    system = req.get("system")
    if system is None:
        instructions = ""
    elif isinstance(system, str):
        instructions = system
    else:
        texts = []
        for i, block in enumerate(system):
            if block.get("type") == "text":
                if block["text"].startswith(BILLING_PREFIX):
                    d(f"system[{i}]", "dropped")
                else:
                    texts.append(block["text"])
            else:
                d(f"system[{i}]", "unsupported")
        instructions = "\n\n".join(texts)

    # 1.4 messages -> input. Each entry: (item, origin) where origin = (role, i, j)
    items = []

    def image_url(src):
        if src.get("type") == "base64":
            return "data:%s;base64,%s" % (src["media_type"], src["data"])
        if src.get("type") == "url":
            return src["url"]
        return None

    def user_part(block, path):
        t = block["type"]
        if t == "text":
            return [{"type": "input_text", "text": block["text"]}]
        if t == "image":
            url = image_url(block["source"])
            if url is None:
                d(path, "unsupported")
                return []
            return [{"type": "input_image", "image_url": url}]
        if t == "document":
            src = block["source"]
            st = src.get("type")
            if st == "base64":
                return [{"type": "input_file",
                         "file_data": "data:%s;base64,%s" % (src["media_type"], src["data"]),
                         "filename": block.get("title") or "document.pdf"}]
            if st == "url":
                return [{"type": "input_file", "file_url": src["url"]}]
            if st == "text":
                text = src["data"]
                if block.get("title"):
                    text = block["title"] + "\n\n" + text
                return [{"type": "input_text", "text": text}]
            if st == "content":
                out = []
                for sub in src["content"]:
                    if sub.get("type") == "text":
                        out.append({"type": "input_text", "text": sub["text"]})
                    elif sub.get("type") == "image":
                        out.append({"type": "input_image", "image_url": image_url(sub["source"])})
                return out
            d(path, "unsupported")
            return []
        if t == "search_result":
            texts = "\n".join(c["text"] for c in block.get("content", []) if c.get("type") == "text")
            return [{"type": "input_text",
                     "text": "%s\n%s\n\n%s" % (block.get("title", ""), block.get("source", ""), texts)}]
        if t in ("thinking", "redacted_thinking"):
            d(path, "dropped")
            return []
        d(path, "unsupported")
        return []

    def tool_output(block, path):
        content = block.get("content")
        is_error = block.get("is_error") is True
        if is_error:
            d(path + ".is_error", "approximated")
        if content is None:
            text = ""
            return ("Error" if is_error else text)
        if isinstance(content, str):
            if is_error:
                return "Error: " + content if content != "" else "Error"
            return content
        kept = []
        for k, sub in enumerate(content):
            st = sub.get("type")
            if st == "text":
                kept.append({"type": "input_text", "text": sub["text"]})
            elif st == "tool_reference":
                kept.append({"type": "input_text", "text": "Tool %s loaded." % sub["tool_name"]})
            elif st == "image" and image_url(sub["source"]) is not None:
                kept.append({"type": "input_image", "image_url": image_url(sub["source"])})
            else:
                d("%s.content[%d]" % (path, k), "unsupported")
        if any(p["type"] == "input_image" for p in kept):
            if is_error:
                kept.insert(0, {"type": "input_text", "text": "Error:"})
            return kept
        text = "\n".join(p["text"] for p in kept)
        if is_error:
            return "Error: " + text if text != "" else "Error"
        return text

    for i, msg in enumerate(req["messages"]):
        role = msg["role"]
        content = msg["content"]
        if role == "system":
            if isinstance(content, str):
                parts = [{"type": "input_text", "text": content}]
            else:
                parts = [{"type": "input_text", "text": b["text"]} for b in content
                         if b.get("type") == "text"]
            items.append(({"type": "message", "role": "developer", "content": parts}, ("system", i, None)))
        elif role == "user":
            if isinstance(content, str):
                items.append(({"type": "message", "role": "user",
                               "content": [{"type": "input_text", "text": content}]}, ("user", i, None)))
                continue
            gathered = []
            for j, block in enumerate(content):
                path = "messages[%d].content[%d]" % (i, j)
                if block["type"] == "tool_result":
                    if gathered:
                        items.append(({"type": "message", "role": "user", "content": gathered},
                                      ("user", i, None)))
                        gathered = []
                    items.append(({"type": "function_call_output",
                                   "call_id": call_id(block["tool_use_id"]),
                                   "output": tool_output(block, path)}, ("user", i, j)))
                else:
                    gathered.extend(user_part(block, path))
            if gathered:
                items.append(({"type": "message", "role": "user", "content": gathered}, ("user", i, None)))
        elif role == "assistant":
            if isinstance(content, str):
                items.append(({"type": "message", "role": "assistant",
                               "content": [{"type": "output_text", "text": content}]}, ("assistant", i, None)))
                continue
            gathered = []

            def flush():
                if gathered:
                    items.append(({"type": "message", "role": "assistant", "content": list(gathered)},
                                  ("assistant", i, None)))
                    gathered.clear()

            for j, block in enumerate(content):
                path = "messages[%d].content[%d]" % (i, j)
                t = block["type"]
                if t == "text":
                    if block["text"] != "":
                        gathered.append({"type": "output_text", "text": block["text"]})
                    continue
                flush()
                if t == "tool_use":
                    items.append(({"type": "function_call", "name": wire_name(block["name"]),
                                   "arguments": compact(block["input"]),
                                   "call_id": call_id(block["id"])}, ("assistant", i, j)))
                elif t == "thinking":
                    env = decode_envelope(block.get("signature"))
                    if env is None or env.get("m") != upstream or (
                            account is not None and isinstance(env.get("a"), str) and env["a"] != account):
                        d(path, "dropped")
                    else:
                        items.append(({"type": "reasoning",
                                       "summary": split_summary(block.get("thinking", ""), env.get("p")),
                                       "encrypted_content": env["e"]}, ("assistant", i, j)))
                elif t == "redacted_thinking":
                    d(path, "dropped")
                elif t == "server_tool_use" or t.endswith("_tool_result"):
                    d(path, "dropped")
                else:
                    d(path, "unsupported")
            flush()
        else:
            raise ValueError("bad role %r" % role)

    # Pairing repair
    call_ids = {it["call_id"] for it, _ in items if it["type"] == "function_call"}
    output_ids = {it["call_id"] for it, _ in items if it["type"] == "function_call_output"}
    out = []
    for it, origin in items:
        if it["type"] == "function_call_output" and it["call_id"] not in call_ids:
            d("messages[%d].content[%d]" % (origin[1], origin[2]), "approximated")
            o = it["output"]
            if isinstance(o, str):
                parts = [{"type": "input_text", "text": "Result of tool call %s:\n%s" % (it["call_id"], o)}]
            else:
                texts = "\n".join(p["text"] for p in o if p["type"] == "input_text")
                parts = [{"type": "input_text", "text": "Result of tool call %s:\n%s" % (it["call_id"], texts)}]
                parts += [p for p in o if p["type"] == "input_image"]
            out.append(({"type": "message", "role": "user", "content": parts}, origin))
        else:
            out.append((it, origin))
    items = out
    k = 0
    while k < len(items):
        it, origin = items[k]
        if it["type"] == "function_call" and it["call_id"] not in output_ids:
            d("messages[%d].content[%d]" % (origin[1], origin[2]), "defaulted")
            pos = k + 1
            while pos < len(items) and items[pos][1][0] == "assistant":
                pos += 1
            items.insert(pos, ({"type": "function_call_output", "call_id": it["call_id"],
                                "output": "No result: the tool call was interrupted."}, ("repair", -1, None)))
            output_ids.add(it["call_id"])
        k += 1
    input_items = [it for it, _ in items]

    # 1.5 tools
    tools = []
    for i, tool in enumerate(req.get("tools") or []):
        ttype = tool.get("type")
        if ttype is None or ttype == "custom":
            schema = copy.deepcopy(tool.get("input_schema") or {})
            schema.pop("$schema", None)
            if "type" not in schema:
                schema = dict([("type", "object")] + list(schema.items()))
            if schema.get("type") == "object" and "properties" not in schema:
                schema["properties"] = {}
            tools.append({"type": "function", "name": wire_name(tool["name"]),
                          "description": tool.get("description") or "", "strict": False,
                          "parameters": schema})
            if tool.get("strict") is True:
                d("tools[%d].strict" % i, "approximated")
            if tool.get("defer_loading") is True:
                d("tools[%d].defer_loading" % i, "approximated")
            if "input_examples" in tool:
                d("tools[%d].input_examples" % i, "dropped")
        elif ttype.startswith("web_search_"):
            ws = {"type": "web_search"}
            if tool.get("allowed_domains"):
                ws["filters"] = {"allowed_domains": tool["allowed_domains"]}
            if tool.get("user_location"):
                loc = {"type": "approximate"}
                for key in ("city", "region", "country", "timezone"):
                    if key in tool["user_location"]:
                        loc[key] = tool["user_location"][key]
                ws["user_location"] = loc
            if "max_uses" in tool:
                d("tools[%d].max_uses" % i, "dropped")
            if "blocked_domains" in tool:
                d("tools[%d].blocked_domains" % i, "dropped")
            tools.append(ws)
        else:
            d("tools[%d]" % i, "unsupported")

    tool_choice = "auto"
    parallel = True
    tc = req.get("tool_choice")
    if isinstance(tc, dict):
        kind = tc.get("type")
        if kind == "any":
            tool_choice = "required"
        elif kind == "tool":
            tool_choice = {"type": "function", "name": wire_name(tc["name"])}
        elif kind == "none":
            tool_choice = "none"
        if tc.get("disable_parallel_tool_use") is True:
            parallel = False

    # 1.6 effort and reasoning
    thinking = req.get("thinking") or {}
    output_config = req.get("output_config") or {}
    source = None
    if isinstance(output_config, dict) and "effort" in output_config:
        effort, source = output_config["effort"], "output_config.effort"
    elif thinking.get("type") == "enabled":
        b = thinking.get("budget_tokens", 0)
        effort = "low" if b < 4000 else "medium" if b < 16000 else "high" if b < 32000 else "xhigh"
        source = "thinking.budget_tokens"
    elif thinking.get("type") == "disabled":
        effort = efforts[0]
        d("thinking", "approximated")
    else:
        effort = default_effort
    if effort not in efforts:
        highest = efforts[-1]
        if effort in EFFORT_ORDER and highest in EFFORT_ORDER and \
                EFFORT_ORDER.index(effort) > EFFORT_ORDER.index(highest):
            clamped = highest
        else:
            clamped = efforts[0]
        if source is not None and clamped != effort:
            d(source, "approximated")
        effort = clamped
    if thinking.get("type") in ("enabled", "adaptive"):
        reasoning = {"effort": effort}
        if thinking.get("display") != "omitted":
            reasoning["summary"] = "auto"
        include = ["reasoning.encrypted_content"]
    else:
        reasoning = {"effort": effort}
        include = []

    # 1.7 other top-level fields
    known = {"model", "messages", "system", "tools", "tool_choice", "thinking", "output_config",
             "metadata", "stream", "cache_control"}
    service_tier = None
    text = None
    for key, value in req.items():
        if key in known:
            continue
        if key == "max_tokens":
            d("max_tokens", "dropped")
        elif key == "stop_sequences":
            if value:
                d("stop_sequences", "unsupported")
        elif key in ("temperature", "top_p", "top_k", "context_management", "service_tier",
                     "container", "mcp_servers", "inference_geo"):
            d(key, "dropped")
        elif key == "speed":
            if value == "fast":
                service_tier = "priority"
            else:
                d(key, "dropped")
        else:
            d(key, "dropped")
    if isinstance(output_config, dict):
        fmt = output_config.get("format")
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            text = {"format": {"type": "json_schema", "name": "output", "schema": fmt.get("schema"),
                               "strict": False}}
            d("output_config.format", "approximated")
        if "task_budget" in output_config:
            d("output_config.task_budget", "dropped")

    cache_key = session_opt
    if cache_key is None:
        meta = req.get("metadata") or {}
        uid = meta.get("user_id")
        if isinstance(uid, str):
            try:
                parsed = json.loads(uid)
            except Exception:
                parsed = None
            if isinstance(parsed, dict) and isinstance(parsed.get("session_id"), str):
                cache_key = parsed["session_id"]
            else:
                m = re.search(r"_session_([0-9a-fA-F-]{36})$", uid)
                if m:
                    cache_key = m.group(1)

    body = {
        "model": upstream,
        "instructions": instructions,
        "input": input_items,
        "tools": tools,
        "tool_choice": tool_choice,
        "parallel_tool_calls": parallel,
        "reasoning": reasoning,
        "store": False,
        "stream": True,
        "include": include,
    }
    if cache_key is not None:
        body["prompt_cache_key"] = cache_key
    if service_tier is not None:
        body["service_tier"] = service_tier
    if text is not None:
        body["text"] = text
    return body, deg


# --------------------------------------------------------------------------------------------
# Deterministic history generation
# --------------------------------------------------------------------------------------------

WORDS = ("request body stream token header account model route upstream buffer chunk event "
         "reasoning summary signature tool call output schema session cache prefix retry limit "
         "window reset quota refresh error status degrade vector golden fixture harness runner").split()
IDENTS = ("body items opts deg route acct token buf line evt sink cfg state frame part idx "
          "name call out text parts schema key value len pos next prev head tail").split()
TYPES = ["Value", "String", "Vec<u8>", "Option<&str>", "usize", "bool", "Route", "Account",
         "Degradation", "Result<(), Error>", "&mut Vec<Item>", "serde_json::Map<String, Value>"]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.n = 0

    def words(self, a, b):
        return " ".join(self.r.choice(WORDS) for _ in range(self.r.randint(a, b)))

    def sentence(self):
        s = self.words(6, 16)
        return s[0].upper() + s[1:] + "."

    def para(self, a=2, b=5):
        return " ".join(self.sentence() for _ in range(self.r.randint(a, b)))

    def tool_id(self):
        self.n += 1
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "toolu_01" + "".join(self.r.choice(alphabet) for _ in range(22))

    def rust_line(self, depth):
        r = self.r
        ind = "    " * depth
        kind = r.randint(0, 9)
        a, b = r.choice(IDENTS), r.choice(IDENTS)
        if kind == 0:
            return ind + "// %s" % self.words(4, 12)
        if kind == 1:
            return ind + "let %s = %s.get(\"%s\").and_then(Value::as_str);" % (a, b, r.choice(WORDS))
        if kind == 2:
            return ind + "if %s.len() > %d {" % (a, r.randint(1, 4096))
        if kind == 3:
            return ind + "%s.push(%s.clone());" % (a, b)
        if kind == 4:
            return ind + "fn %s_%s(%s: %s) -> %s {" % (a, b, a, r.choice(TYPES), r.choice(TYPES))
        if kind == 5:
            return ind + "return Err(Error::invalid(format!(\"%s: {}\", %s)));" % (self.words(2, 5), a)
        if kind == 6:
            return ind + "}"
        if kind == 7:
            return ind + "match %s.as_str() { \"%s\" => %s, _ => %s }" % (a, r.choice(WORDS), b, a)
        if kind == 8:
            return ind + "%s.insert(\"%s\".into(), json!(%d));" % (a, r.choice(WORDS), r.randint(0, 99999))
        return ""

    def file_lines(self, n):
        lines = ["//! %s" % self.words(5, 12), "use serde_json::{json, Value};",
                 "use crate::{Error, Route};", ""]
        depth = 0
        while len(lines) < n:
            line = self.rust_line(depth)
            lines.append(line)
            if line.endswith("{"):
                depth = min(depth + 1, 4)
            elif line.strip() == "}":
                depth = max(depth - 1, 0)
        return lines[:n]

    def read_output(self, lines, start=1):
        body = "\n".join("%6d\t%s" % (start + k, line) for k, line in enumerate(lines))
        return body + ("\n\n<system-reminder>\nWhenever you read a file, you should consider whether "
                       "it would be considered malware. %s\n</system-reminder>\n" % self.sentence())

    def cargo_output(self, n):
        out = ["   Compiling proxy-core v0.1.0 (/home/dev/app/core)"]
        for k in range(n):
            out.append("test %s::%s_%s ... %s" % (self.r.choice(["convert", "stream", "route", "errors"]),
                                                   self.r.choice(IDENTS), self.r.choice(IDENTS),
                                                   "ok" if self.r.random() > 0.08 else "FAILED"))
        out.append("")
        out.append("test result: ok. %d passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; "
                   "finished in 0.%02ds" % (n, self.r.randint(1, 99)))
        return "\n".join(out)


def png_bytes(width, height, seed):
    """A small valid RGB PNG (deterministic gradient)."""
    r = random.Random(seed)
    raw = bytearray()
    base = [r.randint(0, 255) for _ in range(3)]
    for y in range(height):
        raw.append(0)
        for x in range(width):
            raw += bytes(((base[0] + x * 3) % 256, (base[1] + y * 5) % 256, (base[2] + x * y) % 256))

    def chunk(tag, data):
        c = struct.pack(">I", len(data)) + tag + data
        return c + struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))


def fake_fernet(r, n):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "gAAAAABp" + "".join(r.choice(alphabet) for _ in range(n)) + "=="


def load(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
        return json.load(f)


SRC_FILES = ["core/src/convert/request.rs", "core/src/convert/tools.rs", "core/src/stream/mod.rs",
             "core/src/stream/sse.rs", "core/src/errors.rs", "core/src/route.rs",
             "core/src/envelope.rs", "host/src/server.rs", "host/src/accounts.rs",
             "host/src/upstream.rs", "core/src/lib.rs", "host/src/config.rs"]


def grow_history(g, messages, turns, with_thinking, account, big_read=(180, 330)):
    """Append `turns` Claude-Code-like tool turns to `messages` (a list, changed in place).

    Returns nothing; the caller closes the conversation. Every tool_use gets its tool_result in
    the next user message unless a turn says otherwise.
    """
    r = g.r
    for t in range(turns):
        kind = t % 6
        content = []
        if with_thinking:
            content.append(thinking_block(g, account, t))
        content.append({"type": "text", "text": g.para(1, 3)})
        path = "/home/dev/app/" + r.choice(SRC_FILES)
        if kind in (0, 3):
            tid = g.tool_id()
            inp = {"file_path": path}
            if kind == 3:
                inp["offset"] = r.randint(1, 200)
                inp["limit"] = 400
            content.append({"type": "tool_use", "id": tid, "name": "Read", "input": inp})
            lines = g.file_lines(r.randint(*big_read))
            result = {"tool_use_id": tid, "type": "tool_result", "content": g.read_output(lines, inp.get("offset", 1))}
        elif kind in (1, 4):
            tid = g.tool_id()
            cmd = r.choice(["cargo test -p proxy-core --lib 2>&1 | tail -80",
                            "git diff --stat HEAD~3 -- core/src",
                            "grep -rn \"prompt_cache_key\" core/src host/src | head -40",
                            "cargo build --release 2>&1 | grep -E '^(warning|error)' | sort | uniq -c"])
            inp = {"command": cmd, "description": g.words(3, 7).capitalize()}
            if kind == 4:
                inp["timeout"] = 600000
            content.append({"type": "tool_use", "id": tid, "name": "Bash", "input": inp})
            result = {"tool_use_id": tid, "type": "tool_result", "content": g.cargo_output(r.randint(40, 90))}
        elif kind == 2:
            tid = g.tool_id()
            old = g.rust_line(1) + "\n" + g.rust_line(2) + "\n\t\"quoted\" \\ backslash"
            new = old + "\n        // café → naïve “fix” ✓ 🦀\n" + g.rust_line(2)
            inp = {"file_path": path, "old_string": old, "new_string": new, "replace_all": False}
            content.append({"type": "tool_use", "id": tid, "name": "Edit", "input": inp})
            snippet = g.file_lines(r.randint(12, 30))
            result = {"tool_use_id": tid, "type": "tool_result",
                      "content": "The file %s has been updated. Here's the result of running `cat -n` on a "
                                 "snippet of the edited file:\n%s" % (path, "\n".join(
                                     "%6d\t%s" % (100 + k, s) for k, s in enumerate(snippet)))}
        else:
            # two parallel tool calls, results in one user message, then a reminder text block
            t1, t2 = g.tool_id(), g.tool_id()
            content.append({"type": "tool_use", "id": t1, "name": "Read", "input": {"file_path": path}})
            content.append({"type": "tool_use", "id": t2, "name": "Bash",
                            "input": {"command": "wc -l %s" % path, "description": "Count lines"}})
            messages.append({"role": "assistant", "content": content})
            lines = g.file_lines(r.randint(60, 120))
            messages.append({"role": "user", "content": [
                {"tool_use_id": t1, "type": "tool_result", "content": g.read_output(lines)},
                {"tool_use_id": t2, "type": "tool_result", "content": "%d %s" % (r.randint(100, 900), path)},
                {"type": "text", "text": "<system-reminder>\n%s\n</system-reminder>" % g.para(1, 2)}]})
            continue
        messages.append({"role": "assistant", "content": content})
        messages.append({"role": "user", "content": [result]})
        if t % 5 == 4:
            messages.append({"role": "system",
                             "content": "<system-reminder>\n%s\n</system-reminder>" % g.para(2, 4)})




def thinking_block(g, account, t):
    """A replayed thinking block; the signature kind rotates through the cases of 1.6."""
    r = g.r
    parts = ["**%s**" % g.words(2, 4).title(), g.para(1, 3)]
    if t % 4 == 1:
        parts.append(g.para(1, 2))
    text = "\n\n".join(parts)
    kind = ["ours_account", "foreign", "ours_no_account", "ours_other_model", "ours_empty",
            "ours_misfit", "ours_other_account", "clipped"][t % 8]
    e = fake_fernet(r, r.randint(600, 1400))
    if kind == "ours_account":
        return {"type": "thinking", "thinking": text, "signature": make_envelope("gpt-5.5", e, parts, account)}
    if kind == "ours_no_account":
        return {"type": "thinking", "thinking": text, "signature": make_envelope("gpt-5.5", e, parts)}
    if kind == "ours_other_model":
        return {"type": "thinking", "thinking": text, "signature": make_envelope("gpt-5.4", e, parts, account)}
    if kind == "ours_empty":
        return {"type": "thinking", "thinking": "", "signature": make_envelope("gpt-5.5", e, [], account)}
    if kind == "ours_misfit":
        # lengths recorded for the original parts, but the client replays the text trimmed
        return {"type": "thinking", "thinking": text.rstrip(".") + " (edited)",
                "signature": make_envelope("gpt-5.5", e, parts, account)}
    if kind == "ours_other_account":
        return {"type": "thinking", "thinking": text, "signature": make_envelope("gpt-5.5", e, parts, "acct-0000")}
    if kind == "clipped":
        sig = make_envelope("gpt-5.5", e, parts, account)
        return {"type": "thinking", "thinking": text, "signature": sig[:len(sig) // 2]}
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return {"type": "thinking", "thinking": text,
            "signature": "Eq" + "".join(r.choice(alphabet) for _ in range(r.randint(300, 600))) + "=="}


def mark_last_block(msgs):
    """Claude Code's third breakpoint: cache_control on the last block of the last message."""
    last = msgs[-1]
    if isinstance(last["content"], str):
        last["content"] = [{"type": "text", "text": last["content"]}]
    last["content"][-1]["cache_control"] = {"type": "ephemeral"}


def build_large_1():
    """turn2-tool-result grown to a long session (no thinking replay)."""
    req = load("turn2-tool-result.json")
    g = Gen(20261125)
    msgs = req["messages"]
    last = msgs[-1]["content"][-1]
    last.pop("cache_control", None)  # the breakpoint moves to the new last block
    grow_history(g, msgs, 12, False, None, big_read=(150, 270))
    # an image read (tool_result holding one image block)
    tid = g.tool_id()
    msgs.append({"role": "assistant", "content": [
        {"type": "text", "text": "Let me look at the screenshot of the failing page."},
        {"type": "tool_use", "id": tid, "name": "Read", "input": {"file_path": "/home/dev/app/docs/failing.png"}}]})
    png = base64.b64encode(png_bytes(48, 32, 7)).decode("ascii")
    msgs.append({"role": "user", "content": [
        {"tool_use_id": tid, "type": "tool_result",
         "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}}]}]})
    # a denied tool call (is_error, string content)
    tid = g.tool_id()
    msgs.append({"role": "assistant", "content": [
        {"type": "text", "text": "I'll remove the stale build directory."},
        {"type": "tool_use", "id": tid, "name": "Bash",
         "input": {"command": "rm -rf target/", "description": "Remove build output"}}]})
    msgs.append({"role": "user", "content": [
        {"type": "tool_result", "content": "The user doesn't want to proceed with this tool use. The tool use "
         "was rejected (eg. if it was a file edit, the new_string was NOT written to the file). STOP what "
         "you are doing and wait.", "is_error": True, "tool_use_id": tid}]})
    msgs.append({"role": "user", "content": [{"type": "text", "text": "Keep target/, just run the tests again."}]})
    grow_history(g, msgs, 8, False, None)
    # an MCP tool from a server that was since disconnected: name longer than 64 characters
    tid = g.tool_id()
    msgs.append({"role": "assistant", "content": [
        {"type": "tool_use", "id": tid,
         "name": "mcp__plugin_github_github__search_pull_requests_by_repository_label_and_state",
         "input": {"owner": "dev", "repo": "app", "labels": ["proxy", "codex"], "state": "open", "per_page": 20}}]})
    msgs.append({"role": "user", "content": [
        {"tool_use_id": tid, "type": "tool_result",
         "content": [{"type": "text", "text": compact({"total_count": 2, "items": [
             {"number": 41, "title": "convert: keep role system messages in place"},
             {"number": 44, "title": "stream: ping every 15 s"}]})},
             {"type": "text", "text": "Results truncated to 2 items."}]}]})
    # an assistant turn replayed as a plain string, then an interrupted tool call with no result
    msgs.append({"role": "assistant", "content": "Both pull requests are open; #41 touches the converter."})
    msgs.append({"role": "user", "content": "Check the Edit tool handling next, then stop."})
    tid = g.tool_id()
    msgs.append({"role": "assistant", "content": [
        {"type": "text", "text": "Running the converter tests first."},
        {"type": "tool_use", "id": tid, "name": "Bash",
         "input": {"command": "cargo test -p proxy-core convert::", "description": "Converter tests",
                   "run_in_background": False}}]})
    msgs.append({"role": "user", "content": [{"type": "text", "text": "[Request interrupted by user]"}]})
    msgs.append({"role": "system", "content": [
        {"type": "text", "text": "<system-reminder>\n%s\n</system-reminder>" % g.para(2, 3)},
        {"type": "text", "text": "<system-reminder>\nToday's date is 2026-11-25.\n</system-reminder>"}]})
    grow_history(g, msgs, 6, False, None)
    mark_last_block(msgs)
    return req


def build_large_2():
    """turn2-thinking-replay grown to a long --verbose session with replayed thinking."""
    req = load("turn2-thinking-replay.json")
    account = "acct-7f3a"
    g = Gen(4242)
    req["thinking"] = {"type": "adaptive", "display": "updates"}
    req["output_config"] = {"effort": "max"}
    msgs = req["messages"]
    msgs[-1]["content"][-1].pop("cache_control", None)
    # a pasted screenshot and a PDF in a user turn
    png = base64.b64encode(png_bytes(40, 40, 11)).decode("ascii")
    pdf = base64.b64encode(b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
                           b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n").decode("ascii")
    msgs.append({"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": pdf},
         "title": "spec.pdf"},
        {"type": "text", "text": "The page renders like this; the spec is attached. " + g.para(1, 2)}]})
    grow_history(g, msgs, 16, True, account, big_read=(95, 175))
    # a read that returned text + an image
    tid = g.tool_id()
    msgs.append({"role": "assistant", "content": [
        thinking_block(g, account, 0),
        {"type": "text", "text": "Reading the chart."},
        {"type": "tool_use", "id": tid, "name": "Read", "input": {"file_path": "/home/dev/app/docs/latency.png"}}]})
    msgs.append({"role": "user", "content": [
        {"tool_use_id": tid, "type": "tool_result", "content": [
            {"type": "text", "text": "Image: 40x40 PNG"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": base64.b64encode(png_bytes(40, 40, 12)).decode("ascii")}}]}]})
    # a PDF read: the document block inside a tool_result is not supported there
    tid = g.tool_id()
    msgs.append({"role": "assistant", "content": [
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy" + fake_fernet(g.r, 200)},
        {"type": "tool_use", "id": tid, "name": "Read", "input": {"file_path": "/home/dev/app/docs/spec.pdf", "pages": "1-2"}}]})
    msgs.append({"role": "user", "content": [
        {"tool_use_id": tid, "type": "tool_result", "content": [
            {"type": "text", "text": "PDF file read: /home/dev/app/docs/spec.pdf (2 pages)"},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": pdf}}]}]})
    # a tool call from another client whose id is longer than 64 characters
    long_id = "toolu_vrtx_01" + "".join(g.r.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(58)) + ".resumed"
    msgs.append({"role": "assistant", "content": [
        {"type": "text", "text": "Resuming the imported session."},
        {"type": "tool_use", "id": long_id, "name": "Bash", "input": {"command": "git log --oneline -5", "description": "Recent commits"}}]})
    msgs.append({"role": "user", "content": [
        {"tool_use_id": long_id, "type": "tool_result",
         "content": "a1b2c3d convert: role system\n9f8e7d6 stream: pings\n5a4b3c2 errors: 404 usage limit\n"
                    "1d2e3f4 route: [1m] suffix\n0a0b0c0 init"}]})
    # a tool_result whose tool_use was compacted away
    msgs.append({"role": "user", "content": [
        {"tool_use_id": "toolu_01CompactedAwayXXXXXXXXXX", "type": "tool_result",
         "content": "Wrote 120 lines to /home/dev/app/core/src/envelope.rs"},
        {"type": "text", "text": "Continue from where you left off."}]})
    grow_history(g, msgs, 10, True, account, big_read=(95, 175))
    # haiku-style trailing role:system message, a text block carrying the last breakpoint
    msgs.append({"role": "system", "content": [
        {"type": "text", "text": "<total_tokens>812344 tokens left</total_tokens>", "cache_control": {"type": "ephemeral"}}]})
    return req, account


# --------------------------------------------------------------------------------------------
# Small vectors (built from the fixtures; each was checked by reading)
# --------------------------------------------------------------------------------------------

SESSION_HEADER = "27eedacf-8c45-4718-9206-8266c246b580"   # headers.json X-Claude-Code-Session-Id


def small_vectors():
    v = []
    opus = {"upstream_model": "gpt-5.5", "effort": "high"}

    v.append(("b_cc_turn1", "Claude Code turn 1 as sent (opus route, route effort high): billing line system[0] "
              "left out of instructions, role:system message (blocks) -> developer item in place, 12 tools with "
              "$schema removed, defer_loading approximated, output_config.effort medium beats the route effort, "
              "display omitted -> no summary, prompt_cache_key from the JSON metadata.user_id",
              opus, load("turn1.json")))
    v.append(("b_cc_turn2_tool_result", "Claude Code turn 2: role:system now a string, assistant text + Write "
              "tool_use replayed, tool_result string with cache_control -> function_call_output",
              opus, load("turn2-tool-result.json")))
    v.append(("b_cc_turn2_thinking_foreign_signature", "Claude Code turn 2 replaying a thinking block whose "
              "signature is not a ccp1 envelope (an Anthropic one): the block is dropped with a degradation",
              opus, load("turn2-thinking-replay.json")))
    v.append(("b_cc_haiku_trailing_system", "haiku request whose LAST message is role:system (text block with "
              "cache_control): it becomes a trailing developer item; converted for a codex route configured "
              "for haiku (gpt-5.4-mini)",
              {"upstream_model": "gpt-5.4-mini", "effort": "medium"}, load("haiku-turn2-trailing-system.json")))

    req = load("turn1.json")
    v.append(("b_cc_turn1_session_header", "turn 1 with the X-Claude-Code-Session-Id header given as "
              "options.session_id (same value as metadata.user_id's session_id): prompt_cache_key is the header value",
              dict(opus, session_id=SESSION_HEADER), req))

    req = load("turn2-thinking-replay.json")
    sig_parts = [req["messages"][2]["content"][0]["thinking"]]
    env_e = fake_fernet(random.Random(99), 880)
    req["messages"][2]["content"][0]["signature"] = make_envelope("gpt-5.5", env_e, sig_parts)
    v.append(("b_cc_thinking_ccp1_replay", "turn 2 replaying a thinking block that carries our ccp1 envelope "
              "(model gpt-5.5, no account tag, one summary part): it becomes a reasoning item before the "
              "assistant message; options.session_id (header) differs from metadata's session and wins",
              dict(opus, session_id=SESSION_HEADER), req))

    req = load("turn2-thinking-replay.json")
    think = "**Writing the file**\n\nover a lazy dog while se"
    parts = ["**Writing the file**", "over a lazy dog while se"]
    req["messages"][2]["content"][0]["thinking"] = think
    req["messages"][2]["content"][0]["signature"] = make_envelope("gpt-5.5", fake_fernet(random.Random(7), 640),
                                                                  parts, "acct-7f3a")
    v.append(("b_cc_thinking_ccp1_same_account_two_parts", "ccp1 envelope with account tag acct-7f3a replayed "
              "to the same account: reasoning item whose summary is split back into two parts by the byte "
              "lengths in p", dict(opus, account_tag="acct-7f3a"), req))

    req = load("turn2-thinking-replay.json")
    req["messages"][2]["content"][0]["signature"] = make_envelope(
        "gpt-5.5", fake_fernet(random.Random(8), 640), [req["messages"][2]["content"][0]["thinking"]], "acct-7f3a")
    v.append(("b_cc_thinking_ccp1_other_account", "ccp1 envelope made for account acct-7f3a replayed on account "
              "acct-91c2 (both tagged, different): dropped", dict(opus, account_tag="acct-91c2"), req))

    req = load("turn2-thinking-replay.json")
    req["messages"][2]["content"][0]["signature"] = make_envelope(
        "gpt-5.4", fake_fernet(random.Random(9), 640), [req["messages"][2]["content"][0]["thinking"]])
    v.append(("b_cc_thinking_ccp1_other_model", "ccp1 envelope made by gpt-5.4 replayed to gpt-5.5: dropped",
              opus, req))

    req = load("turn2-tool-result.json")
    del req["context_management"]
    req["thinking"] = {"type": "adaptive"}
    req["tools"] = [t for t in req["tools"] if t["name"] not in ("ToolSearch", "DeferredToolPlaceholder")]
    tr = req["messages"][3]["content"][0]
    req["messages"][3]["content"][0] = {
        "type": "tool_result",
        "content": "The user doesn't want to proceed with this tool use. The tool use was rejected (eg. if it "
                   "was a file edit, the new_string was NOT written to the file).",
        "is_error": True, "tool_use_id": tr["tool_use_id"], "cache_control": {"type": "ephemeral"}}
    v.append(("b_cc_disable_experimental_betas_denied", "CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS shape: no "
              "context_management, thinking {type:adaptive} only (-> summary auto), no ToolSearch / "
              "DeferredToolPlaceholder; the Write call was denied (tool_result is_error:true, key order as "
              "Claude Code sends it) -> output prefixed 'Error: ' and is_error approximated",
              {"upstream_model": "gpt-5.5", "effort": "medium"}, req))
    return v


def large_vectors():
    req1 = build_large_1()
    req2, account = build_large_2()
    return [
        ("b_cc_large_tool_history", "turn2-tool-result grown to a long session (12 real tools): Read/Bash/Edit "
         "turns with long file contents, parallel tool calls with a reminder text after the results, "
         "role:system strings and blocks, an image tool_result (array output), a denied call (is_error), an "
         "MCP tool name longer than 64 chars in history (wire name shortened), all-text block results "
         "joined by \\n, an assistant string turn, an interrupted tool call with no result (defaulted)",
         {"upstream_model": "gpt-5.5", "effort": "high"}, req1),
        ("b_cc_large_thinking_history", "turn2-thinking-replay grown to a long --verbose session "
         "(display updates -> summary auto, output_config.effort max clamped to xhigh): thinking blocks with "
         "every signature case (ours with/without account, other model, other account, empty text, lengths "
         "not fitting, clipped, foreign), redacted_thinking, a pasted image and a PDF document in a user "
         "turn, an image+text tool_result, a document inside a tool_result (unsupported), a tool call id "
         "longer than 64 chars (shortened), an orphan tool_result (approximated) and a trailing "
         "role:system string",
         {"upstream_model": "gpt-5.5", "effort": "high", "account_tag": account}, req2),
    ]


def full_options(o):
    out = {"upstream_model": o["upstream_model"], "effort": o.get("effort", "medium"),
           "efforts": o.get("efforts", DEFAULT_EFFORTS), "session_id": o.get("session_id"),
           "account_tag": o.get("account_tag")}
    return out


def render(name, description, options, req):
    expected, deg = convert(req, options)
    doc = {"description": description, "options": full_options(options), "request": req,
           "expected": expected, "degradations": deg}
    # one top-level key per line, values compact (keeps the large files inside 200-500 KB)
    lines = ["{"]
    keys = list(doc)
    for k, key in enumerate(keys):
        lines.append(" %s: %s%s" % (json.dumps(key), compact(doc[key]), "," if k < len(keys) - 1 else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv):
    check = "--check" in argv
    vectors = large_vectors()
    if "--all" in argv or check:
        vectors = small_vectors() + vectors
    bad = 0
    for name, desc, opts, req in vectors:
        text = render(name, desc, opts, req)
        path = os.path.join(REQUEST_DIR, name + ".json")
        if check:
            try:
                with open(path, encoding="utf-8") as f:
                    same = f.read() == text
            except FileNotFoundError:
                same = False
            print("%-50s %s" % (name, "ok" if same else "DIFFERS"))
            bad += 0 if same else 1
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print("%-50s %8d bytes (request %d)" % (name, len(text.encode("utf-8")),
                                                   len(compact(req).encode("utf-8"))))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
