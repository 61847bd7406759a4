#!/usr/bin/env python3
"""Writes seed inputs for every fuzz target into OUT/<target>/ from the
project's own examples: golden and invalid vectors, scenarios, traces (the
committed ones and, given a syncsim binary, traces of a few scenario runs),
live target and fault files. scripts/fuzz_seeds.sh minimises them with
libFuzzer's -merge=1 into fuzz/corpus/<target>/ (docs/fuzzing.md)."""
import base64, glob, hashlib, hmac, json, os, struct, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = os.environ.get("SYNCSIM_SPEC_VECTORS", os.path.join(ROOT, "..", "shared", "spec", "vectors"))
RUN_SCENARIOS = ["handshake-and-ping", "writes-converge", "resync-gap-dropped-delta",
                 "purge-during-pushes", "presence-broadcast-and-leave",
                 "token-refresh-ahead-of-expiry", "throttle-backlog-builds", "definition-sync",
                 "lossy-jittery-network", "timeseries-push-ack", "bug-server-skips-dedup",
                 "vector-clock-exchange", "unknown-frames-ignored", "corrupt-frames-ignored",
                 "shape-resubscribe", "token-expired-at-handshake"]


def put(out, target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def jsonl(path):
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                yield line, json.loads(line)


def traces(syncsim):
    """(name, text) of committed traces and of a few runs' traces."""
    for p in sorted(glob.glob(os.path.join(ROOT, "tests/traces/*.jsonl"))):
        yield os.path.basename(p), open(p).read()
    if not syncsim:
        return
    with tempfile.TemporaryDirectory() as tmp:
        for s in RUN_SCENARIOS:
            yaml = os.path.join(ROOT, "scenarios", s + ".yaml")
            if not os.path.exists(yaml):
                continue
            t = os.path.join(tmp, s + ".jsonl")
            subprocess.run([syncsim, "run", yaml, "--seed", "1", "--trace", t],
                           stdout=subprocess.DEVNULL, check=False)
            if os.path.exists(t):
                yield s + ".jsonl", open(t).read()


def records(text):
    """A trace as session_checker.cpp's records."""
    out, last = bytearray(b"\1"), 0  # the server's clock known
    seen = {"written": 0, "received": 1}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            j = json.loads(line)
            int(j["t"]) + 0
        except (ValueError, KeyError, TypeError):
            continue  # malformed.jsonl's bad lines
        if not isinstance(j["t"], int) or (j.get("ev") is None and "frame_hex" not in j):
            continue
        dt = max(0, min(0xFFFF, (j["t"] - last) // 1_000_000))
        last = j["t"]
        if j.get("ev") == "purge":
            c = str(j.get("collection", "")).encode()[:0xFFFF]
            out += struct.pack("<BBHH", 0b1110, 0, dt, len(c)) + c
        elif j.get("ev") == "close":
            out += struct.pack("<BBHH", 0b0110, int(j.get("conn", 0)) & 0xFF, dt, 0)
        else:
            try:
                f = bytes.fromhex(j["frame_hex"])[:0xFFFF]
            except (ValueError, TypeError):
                continue
            kind = (1 if j.get("from") == "server" else 0) | seen.get(j.get("seen"), 2) << 1
            out += struct.pack("<BBHH", kind, int(j.get("conn", 0)) & 0xFF, dt, len(f)) + f
    return bytes(out)


def jwt(claims, secret=b"fuzz-secret", alg="HS256"):
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")
    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = b64(hmac.new(secret, head + b"." + body, hashlib.sha256).digest())
    return (head + b"." + body + b"." + sig).decode()


def main():
    out = sys.argv[1]
    syncsim = sys.argv[2] if len(sys.argv) > 2 else None
    frames = []
    for path in sorted(glob.glob(os.path.join(ROOT, "tests/vectors/*.jsonl")) +
                       glob.glob(os.path.join(SPEC, "*.jsonl"))):
        for i, (line, j) in enumerate(jsonl(path)):
            if "frame_hex" in j:
                frames.append(bytes.fromhex(j["frame_hex"]))
            if "value" in j:
                put(out, "json_message", f"{os.path.basename(path)}-{i}", line)
    all_traces = list(traces(syncsim))
    for name, text in all_traces:
        put(out, "trace_reader", name, text)
        put(out, "session_checker", name, records(text))
        for line in text.splitlines():
            try:
                frames.append(bytes.fromhex(json.loads(line)["frame_hex"]))
            except (ValueError, KeyError, TypeError):
                pass
    frames = list(dict.fromkeys(frames))  # unique, in order
    for i, f in enumerate(frames):
        put(out, "frame_decode", f"f{i}", f)
        put(out, "roundtrip", f"f{i}", f)
        put(out, "ws_message", f"f{i}", struct.pack("<BH", 1, len(f) & 0xFFFF) + f)
    for k in range(0, len(frames), 8):
        stream = b"".join(frames[k:k + 8])
        for prefix in (b"\0\0\0\0\0", b"\0\1\7\x20\0", b"\2\3\5\0\1"):
            put(out, "frame_stream", f"s{k}-{prefix.hex()}", prefix + stream)
        msgs = b"".join(struct.pack("<BH", 1, len(f) & 0xFFFF) + f for f in frames[k:k + 8])
        put(out, "ws_message", f"m{k}", msgs + struct.pack("<BH", 0, 3) + b"abc")
    for p in sorted(glob.glob(os.path.join(ROOT, "scenarios/*.yaml")) +
                    glob.glob(os.path.join(ROOT, "tests/scenarios/*.yaml"))):
        put(out, "scenario_yaml", os.path.basename(p), open(p, "rb").read())
    for p in sorted(glob.glob(os.path.join(ROOT, "tests/live/*.yaml"))):
        put(out, "fault_file", os.path.basename(p), open(p, "rb").read())
    target = ("server: ws://127.0.0.1:9090/sync\njwt_secret: s3cret\ntenant: 7\n"
              "capabilities: [handshake, ping, deltas, shapes]\n"
              "expected_failures: [duplicate-acked-with-lsn-0, TOKEN-1]\ntime_scale: 2\n")
    put(out, "target_file", "target", b"\0" + target.encode())
    put(out, "target_file", "token", b"\0" + b'server: tcp://127.0.0.1:9091\ntoken: "eyJ.x.y"\n')
    for p in [os.path.join(ROOT, "tests/faulty/baseline.yaml")] + \
            sorted(glob.glob(os.path.join(ROOT, "tests/live/*baseline*.yaml"))):
        if os.path.exists(p):
            put(out, "target_file", os.path.basename(p), b"\1" + open(p, "rb").read())
    tokens = [jwt({"sub": "alice", "tenant_id": 1, "exp": 2000000000, "iss": "iss"}),
              jwt({"sub": "bob", "tenant_id": 4294967295, "exp": 1, "nbf": 5, "iat": 3}),
              jwt({"tenant_id": "7", "exp": 1.5}), jwt({"exp": 9223372036854775807}),
              jwt({"sub": "c", "roles": ["a"], "aud": "x", "user_id": 3}, alg="RS256"),
              "a.b.c", "", "eyJ", "===="]
    for i, t in enumerate(tokens):
        put(out, "jwt_claims", f"t{i}", t)


if __name__ == "__main__":
    main()
