#!/usr/bin/env python3
"""(Re)build the seed corpora under fuzz/corpus/<target>/ from the golden vectors
(tests/vectors/**), the shared fixtures (../shared/fixtures/** next to the repository, or
$FIXTURES) and core's test fixtures. Deterministic: the same sources give the same files.

Usage: python3 fuzz/seed.py            (replaces the seed files, keeps other corpus files)
       python3 fuzz/seed.py --clean    (empties each corpus directory first)

Seed file names start with `seed-` so they can be told from what the fuzzer adds.
"""

import base64
import hashlib
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VECTORS = os.path.join(ROOT, "tests", "vectors")
CORE_FIXTURES = os.path.join(ROOT, "core", "tests", "fixtures")


def find_fixtures():
    env = os.environ.get("FIXTURES")
    if env:
        return env
    for cand in (
        os.path.join(ROOT, "..", "shared", "fixtures"),
        os.path.join(ROOT, "shared", "fixtures"),
        "/work/shared/fixtures",
    ):
        if os.path.isdir(cand):
            return os.path.abspath(cand)
    return None


FIXTURES = find_fixtures()
# Seeds bigger than this are cut: the fuzzer's -max_len is far below, and the corpus stays small.
MAX_SEED = 8 * 1024

corpora = {}


def add(target, data, tag, cut=False, limit=None):
    """Add a seed; one over `limit` (MAX_SEED) is cut when `cut` (a stream), else left out."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    limit = limit or MAX_SEED
    if len(data) > limit:
        if not cut:
            return
        data = data[:limit]
    h = hashlib.sha1(data).hexdigest()[:16]
    corpora.setdefault(target, {})[f"seed-{tag}-{h}"] = data


def ctrl(flags, param, mode, seed):
    """The 8-byte control header of the stream targets (fuzz/src/lib.rs split_ctrl)."""
    return bytes([flags & 0xFF, param & 0xFF, mode & 0xFF]) + struct.pack(">Q", seed)[3:]


def files(d, ext):
    if not d or not os.path.isdir(d):
        return []
    out = []
    for dirpath, _, names in os.walk(d):
        for n in names:
            if n.endswith(ext):
                out.append(os.path.join(dirpath, n))
    return sorted(out)


def load(p):
    with open(p, "rb") as f:
        return f.read()


def name_of(p):
    return os.path.splitext(os.path.basename(p))[0].replace(" ", "_")[:40]


def request_bytes(case):
    if "request" in case:
        return json.dumps(case["request"], ensure_ascii=False, separators=(",", ":")).encode()
    if "request_raw" in case:
        return case["request_raw"].encode("utf-8", "surrogatepass")
    return None


# ---- requests ----------------------------------------------------------------------------

def seed_requests():
    for sub, targets in (
        ("request", ["convert_request", "convert_chat"]),
        ("chat_request", ["convert_chat", "convert_request"]),
        ("openai_request", ["openai_inbound"]),
    ):
        for p in files(os.path.join(VECTORS, sub), ".json"):
            body = request_bytes(json.loads(load(p)))
            if body is None:
                continue
            # The big generated requests once only, in their own target.
            ts = targets[:1] if len(body) > 16 * 1024 else targets
            for t in ts:
                add(t, body, f"{sub}-{name_of(p)}")
    for p in files(os.path.join(VECTORS, "validation"), ".json"):
        case = json.loads(load(p))
        body = request_bytes(case)
        if body is None:
            continue
        target = "openai_inbound" if case.get("dialect") == "openai" else "convert_request"
        add(target, body, f"validation-{name_of(p)}")
        if target == "convert_request":
            add("convert_chat", body, f"validation-{name_of(p)}")
    if FIXTURES:
        for p in files(os.path.join(FIXTURES, "claude-code"), ".json"):
            if os.path.basename(p) == "headers.json":
                continue
            # Real Claude Code requests (about 50 KB each): kept whole, all four for the
            # Codex lane, one for the Chat lane.
            body = load(p)
            add("convert_request", body, f"claude-code-{name_of(p)}", limit=96 * 1024)
            if "tool-result" in p:
                add("convert_chat", body, f"claude-code-{name_of(p)}", limit=96 * 1024)


# ---- streams -----------------------------------------------------------------------------

def stream_flags(opts, target):
    flags = 0
    if opts.get("thinking"):
        flags |= 1
    if target == "codex_stream" and opts.get("stop_sequences"):
        flags |= 2
    if opts.get("tool_names"):
        flags |= 8
    if opts.get("account_tag"):
        flags |= 16
    return flags


def seed_streams():
    sources = []  # (target, name, body, options)
    for sub, target in (("stream", "codex_stream"), ("chat_stream", "chat_stream")):
        d = os.path.join(VECTORS, sub)
        if not os.path.isdir(d):
            continue
        for case_dir in sorted(os.listdir(d)):
            up = os.path.join(d, case_dir, "upstream.sse")
            if not os.path.isfile(up):
                continue
            opts = {}
            cj = os.path.join(d, case_dir, "case.json")
            if os.path.isfile(cj):
                opts = json.loads(load(cj)).get("options", {}) or {}
            sources.append((target, f"{sub}-{case_dir}"[:48], load(up), opts))
    if FIXTURES:
        for p in files(os.path.join(FIXTURES, "codex-captures"), ".sse"):
            sources.append(("codex_stream", f"capture-{name_of(p)}", load(p), {"thinking": "thinking" in p}))
    for i, (target, name, body, opts) in enumerate(sources):
        seed = int(hashlib.sha1(name.encode()).hexdigest()[:10], 16)
        flags = stream_flags(opts, target)
        # Big chunks or small ones (with an abort part-way on every third).
        if i % 2 == 0:
            add(target, ctrl(flags, 0, 3, seed) + body, f"{name}-big", cut=True)
        else:
            abort = 4 if i % 3 == 0 else 0
            add(target, ctrl(flags | abort, i * 37, 4 * (i % 16), seed) + body, f"{name}-small", cut=True)
        # The SSE decoder takes any of them (every third one, 4 KB, to keep the corpus small).
        if i % 3 == 0:
            add("sse_decoder", ctrl(0, 0, (i * 4 + 2) & 0xFF, seed) + body, name, cut=True, limit=4096)
    # A few hand-written SSE edge cases for the decoder.
    for j, body in enumerate([
        b"\xef\xbb\xbfdata: a\r\n\r\n",
        b"event: x\rdata: 1\rdata: 2\r\r: c\n\ndata\n\n",
        b"data: 1\r",
        b": trailing comment",
        b"data: a\xffb\n\nid: 3\nretry: 9\nfoo: bar\ndata:  two spaces\n\n",
    ]):
        add("sse_decoder", ctrl(0, 0, 1 + 4 * j, j), f"edge{j}")
        add("sse_decoder", ctrl(0, 0, 1, j) + body, f"edge{j}")


# ---- exchange ----------------------------------------------------------------------------

STATUSES = [200, 200, 200, 201, 400, 401, 402, 403, 404, 408, 429, 500, 502, 503, 504, 529]


def u16(v):
    return struct.pack(">H", v)


def exchange_seed(scenario):
    """Encode a vector's scenario as the exchange target's operations (fuzz_targets/exchange.rs;
    `arbitrary` reads ranged integers big-endian, one byte for ranges that fit in a byte)."""
    cfg = scenario.get("config", {}) or {}
    chat = scenario.get("lane") == "chat"
    openai = scenario.get("dialect") == "openai"
    stream = bool((scenario.get("request") or {}).get("stream"))
    out = bytearray()
    out += bytes([int(chat), int(openai), int(stream), 0])
    out += bytes([(min(max(cfg.get("max_attempts") or 4, 1), 6) - 1)])
    for key, lo, hi, default in (
        ("first_byte_timeout_ms", 1, 30000, 30000),
        ("idle_timeout_ms", 1, 30000, 30000),
        ("commit_timeout_ms", 0, 10000, 8000),
        ("ping_interval_ms", 500, 10000, 10000),
    ):
        v = min(max(cfg.get(key) or default, lo), hi)
        out += u16(v - lo)
    out += bytes([min(max(cfg.get("max_held_events") or 8, 1), 8) - 1])
    out += bytes([5])  # max_wait_secs
    out += u16(4096 - 16)  # error_body_cap
    out += bytes([0]) + bytes(8)  # no session; seed 0
    for script in scenario.get("upstream", []):
        if not chat:
            out += bytes([0, 0])  # pick acct-a
            out += bytes([3, 0, 0])  # token ready
        for step in script:
            if isinstance(step, dict) and "head" in step:
                status = step["head"].get("status", 200)
                if status in STATUSES:
                    out += bytes([4, 0, STATUSES.index(status), 0])
                else:
                    out += bytes([4, 7]) + struct.pack("<H", status) + bytes([0])
            elif isinstance(step, dict) and "bytes" in step:
                b = step["bytes"].encode()
                for k in range(0, len(b), 96):
                    piece = b[k:k + 96]
                    out += bytes([7, len(piece)]) + piece
            elif isinstance(step, dict) and "wait" in step:
                out += bytes([11])
            elif step == "eof":
                out += bytes([9])
            elif step == "reset":
                out += bytes([10])
    return bytes(out)


def seed_exchange():
    for p in files(os.path.join(VECTORS, "exchange"), ".json"):
        case = json.loads(load(p))
        add("exchange", exchange_seed(case["scenario"]), name_of(p))
    # A streamed answer straight from a capture.
    if FIXTURES:
        for p in files(os.path.join(FIXTURES, "codex-captures"), ".sse")[:2]:
            body = load(p)[:4000]
            scen = {"request": {"stream": True}, "upstream": [[{"head": {"status": 200}}, {"bytes": body.decode("utf-8", "replace")}, "eof"]]}
            add("exchange", exchange_seed(scen), f"capture-{name_of(p)}")


# ---- small parsers -----------------------------------------------------------------------

def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt_payloads(text):
    """Payload JSON of every JWT-looking string in a JSON text."""
    out = []
    def walk(v):
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str) and v.count(".") == 2:
            part = v.split(".")[1]
            try:
                out.append((v, base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))
            except Exception:
                pass
    walk(json.loads(text))
    return out


def seed_small():
    imports = files(os.path.join(CORE_FIXTURES, "import"), ".json")
    for p in imports:
        text = load(p)
        add("import", text, name_of(p))
        for k, (token, payload) in enumerate(jwt_payloads(text)):
            add("jwt_claims", payload, f"{name_of(p)}-payload{k}")
            add("jwt_claims", token, f"{name_of(p)}-jwt{k}")
    for body in (
        '{"access_token":"eyJhbGciOiJub25lIn0.eyJleHAiOjE3ODYyMDAwMDB9.","refresh_token":"rt_2","id_token":"x.y.z","expires_in":864000}',
        '{"access_token":"opaque","expires_in":3600}',
        '{"error":{"message":"used","type":"invalid_request_error","code":"refresh_token_reused"}}',
        '{"error":"invalid_grant","error_description":"expired"}',
    ):
        add("jwt_claims", body, "token-endpoint")
    add("import", '{"auth_mode":"apikey","OPENAI_API_KEY":"sk-test"}', "apikey")
    add("import", '{"version":1,"activeAccount":"a@b.c","accounts":[1,{"accessToken":"a.b.c"}]}', "node-odd")

    sigs = set()
    for p in files(VECTORS, ".json") + files(VECTORS, ".sse"):
        text = load(p).decode("utf-8", "replace")
        i = text.find("ccp1.")
        while i != -1 and len(sigs) < 12:
            j = i + 5
            while j < len(text) and (text[j].isalnum() or text[j] in "-_"):
                j += 1
            sigs.add(text[i:j])
            i = text.find("ccp1.", j)
    for k, s in enumerate(sorted(sigs)):
        add("signature", s, f"vector{k}")
        body = s[5:]
        try:
            add("signature", base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)), f"vector{k}-json")
        except Exception:
            pass
    add("signature", '{"v":1,"m":"gpt-5.5","a":"acct1","e":"gAAAAB","p":[3,4]}', "envelope")
    add("signature", '{"v":2,"m":"gpt-5.5","e":"","p":[]}', "envelope-v2")

    for k, text in enumerate((
        "",
        "{}",
        '{\n  "env": {\n    "ANTHROPIC_AUTH_TOKEN": "sk-ant-oat-0123456789abcdefXYZ",\n    "OTHER": "1"\n  },\n  "permissions": {"allow": ["Bash"]}\n}\n',
        '{"model":"opus","env":{"ANTHROPIC_BASE_URL":"http://127.0.0.1:8081","ANTHROPIC_API_KEY":"ccpKey0123456789abcdefXYZ","ANTHROPIC_DEFAULT_OPUS_MODEL":"claude-opus-4-5","ANTHROPIC_DEFAULT_SONNET_MODEL":"claude-sonnet-4-5","ANTHROPIC_DEFAULT_HAIKU_MODEL":"claude-haiku-4-5","ANTHROPIC_SMALL_FAST_MODEL":"claude-haiku-4-5","KEEP":"x"},"hooks":{}}',
        '\ufeff{"env":null,"a":[1,2.5,-0.0,1e300]}',
        '{"env":"not an object"}',
        "[1,2]",
        '{"env":{"ANTHROPIC_MODEL":"sonnet","ANTHROPIC_API_KEY":5}}',
    )):
        add("claude_settings", bytes([k]) + text.encode(), f"settings{k}")


def seed_continuation():
    """NUL-separated: a Codex body, its turn's socket frames, the next body (continuation.rs)."""
    def body(items):
        return json.dumps({"model": "gpt-5.5", "instructions": "be brief", "stream": True,
                           "store": False, "tools": [{"type": "function", "name": "Read"}],
                           "input": items}).encode()

    def user(t):
        return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": t}]}

    def ev(v):
        return json.dumps(v).encode()

    call = {"type": "function_call", "id": "fc_1", "status": "completed", "call_id": "call_1",
            "name": "Read", "arguments": "{\"path\":\"a\"}"}
    said = {"type": "message", "id": "m1", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": "Reading."}]}
    frames = [
        ev({"type": "codex.rate_limits", "plan_type": "plus",
            "rate_limits": {"primary": {"used_percent": 9, "window_minutes": 300}}}),
        ev({"type": "response.created", "response": {"id": "resp_1"}}),
        ev({"type": "response.output_item.done", "item": {"type": "reasoning", "id": "rs", "summary": []}}),
        ev({"type": "response.output_item.done", "item": said}),
        ev({"type": "response.output_item.done", "item": call}),
        ev({"type": "response.completed", "response": {"id": "resp_1", "output": []}}),
    ]
    first = body([user("read a")])
    echo = [user("read a"),
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Reading."}]},
            {"type": "function_call", "name": "Read", "arguments": "{\"path\":\"a\"}", "call_id": "call_1"},
            {"type": "function_call_output", "call_id": "call_1", "output": "contents"}]
    nxt = body(echo)
    join = b"\0".join
    add("continuation", join([first] + frames + [nxt]), "append")
    add("continuation", join([first] + frames + [body([user("read b")])]), "edited")
    add("continuation", join([first, frames[1], ev({"type": "response.failed", "response": {"id": "r"}}), nxt]), "failed")
    add("continuation", join([first, ev({"type": "error", "status": 400,
                                         "error": {"message": "Invalid previous_response_id."}}), nxt]), "error")
    add("continuation", join([first, ev({"type": "codex.response.metadata",
                                         "headers": {"X-Models-Etag": "r2"}}), first]), "metadata")


def main():
    clean = "--clean" in sys.argv[1:]
    seed_requests()
    seed_streams()
    seed_exchange()
    seed_small()
    seed_continuation()
    total = 0
    for target, seeds in sorted(corpora.items()):
        d = os.path.join(HERE, "corpus", target)
        os.makedirs(d, exist_ok=True)
        for n in os.listdir(d):
            if clean or n.startswith("seed-"):
                os.remove(os.path.join(d, n))
        for n, data in seeds.items():
            with open(os.path.join(d, n), "wb") as f:
                f.write(data)
            total += len(data)
        print(f"{target:16} {len(seeds):4} seeds {sum(len(x) for x in seeds.values()):9} bytes")
    print(f"{'total':16} {sum(len(s) for s in corpora.values()):4} seeds {total:9} bytes")
    if not FIXTURES:
        print("note: shared fixtures not found (set FIXTURES=...); seeded from the vectors only")


if __name__ == "__main__":
    main()
