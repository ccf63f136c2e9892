#!/usr/bin/env python3
"""Prometheus remote-write load generator for bench/e2e/listeners.py.

Offers --rate samples/s for --duration s to --url (POST, snappy + protobuf
WriteRequest, remote write 1.0 headers) from --senders keep-alive
connections: --requests = rate x duration / batch requests, request k
scheduled at k / (rate / batch) s. A request answered 429 or 503 is sent
again (the same bytes) after its Retry-After, so nothing is lost; a
connection error is also retried and counted (the receiver may have taken
it: a possible duplicate, reported). If the receiver is slower than the
rate, requests simply start late; no request starts after --max-wall s
(counted as `late`: never offered, so not lost). Prints one JSON line with what was accepted, per
slice (below), the retries and the generator's own CPU seconds.

Series: --series series in slices of --batch; request k carries slice
k % slices, one sample per series, all at timestamp base + (k // slices) *
1000 ms, so every series gets distinct timestamps. Labels: __name__
(bench_rw_metric_<i%10>), batch (the slice), instance, job, pod, series.

The protobuf is built once per slice with a fixed timestamp; per request only
that timestamp's varint (6 bytes for every millisecond time from 2001 to
2109) is replaced with bytes.replace, at C speed. With --snappy real (the
default) every request's body is then compressed, before the first request
is sent (so the generator's CPU does not compete with the receiver's), by
the system's libsnappy through ctypes (Python has no snappy module here):
the same block format a real Prometheus sends, about 180 KB per 10,000
samples of these series, which the receiver must really decompress. All
bodies are held in memory (about 360 MB for the default 2,000 requests).
--snappy literal sends what the generator sent before 2026-12-06: a
literal-only snappy block (the uncompressed length as a varint, then one
literal element; 1.4 MB per request), valid snappy decoded by a copy, built
once per slice and patched per request, for comparison with older
results."""
import argparse
import ctypes
import ctypes.util
import http.client
import json
import os
import struct
import threading
import time
import urllib.parse

STARTED = time.monotonic()


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, wire, payload):
    return varint(num << 3 | wire) + payload


def ld(num, payload):  # length-delimited field
    return field(num, 2, varint(len(payload)) + payload)


def snappy_literal(data):
    """A snappy block holding `data` as one literal element (format_description.txt:
    tag byte 0b111111_00 = literal whose length-1 follows in 4 bytes)."""
    return varint(len(data)) + bytes([63 << 2]) + struct.pack("<I", len(data) - 1) + data


class Snappy:
    """snappy_compress from the system's libsnappy (snappy-c.h), through ctypes."""

    def __init__(self):
        name = ctypes.util.find_library("snappy") or "libsnappy.so.1"
        try:
            lib = ctypes.CDLL(name)
        except OSError as e:
            raise SystemExit(f"rwgen: --snappy real needs libsnappy ({e}); "
                             "apt-get install libsnappy1v5, or use --snappy literal")
        lib.snappy_max_compressed_length.restype = ctypes.c_size_t
        lib.snappy_max_compressed_length.argtypes = [ctypes.c_size_t]
        lib.snappy_compress.restype = ctypes.c_int
        lib.snappy_compress.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                        ctypes.POINTER(ctypes.c_size_t)]
        self.lib = lib

    def compress(self, data):
        cap = self.lib.snappy_max_compressed_length(len(data))
        out = ctypes.create_string_buffer(cap)
        n = ctypes.c_size_t(cap)
        if self.lib.snappy_compress(data, len(data), out, ctypes.byref(n)) != 0:
            raise SystemExit("rwgen: snappy_compress failed")
        return out.raw[:n.value]


TEMPLATE_TS = 1_000_000_000_000  # 2001-09-09, a 6-byte varint like every real time


def slice_body(s, batch):
    ts_field = field(2, 0, varint(TEMPLATE_TS))
    parts = []
    for n in range(batch):
        i = s * batch + n
        labels = [("__name__", f"bench_rw_metric_{i % 10}"), ("batch", str(s)),
                  ("instance", f"10.1.{i // 250 % 250}.{i % 250}:9100"), ("job", "bench-rw"),
                  ("pod", f"app-{i // 10}"), ("series", str(i))]
        lab = b"".join(ld(1, ld(1, k.encode()) + ld(2, v.encode())) for k, v in labels)
        sample = field(1, 1, struct.pack("<d", float(i % 1000))) + ts_field
        parts.append(ld(1, lab + ld(2, sample)))
    body = b"".join(parts)
    pattern = varint(TEMPLATE_TS)
    if body.count(pattern) != batch:
        raise SystemExit(f"slice {s}: timestamp pattern found {body.count(pattern)} times")
    return body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--rate", type=float, default=1e6, help="samples/s offered")
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--batch", type=int, default=10000, help="samples per request")
    ap.add_argument("--series", type=int, default=100000)
    ap.add_argument("--senders", type=int, default=8)
    ap.add_argument("--base-ms", type=int, required=True)
    ap.add_argument("--max-wall", type=float, default=120.0)
    ap.add_argument("--snappy", choices=("real", "literal"), default="real",
                    help="real: compressed bodies, as Prometheus sends (default); literal: "
                         "literal-only snappy blocks, 8x larger (the bench before 2026-12-06)")
    a = ap.parse_args()
    slices = a.series // a.batch
    total = int(a.rate * a.duration / a.batch)
    per_s = a.rate / a.batch
    pattern = varint(TEMPLATE_TS)
    if a.snappy == "literal":
        # The snappy framing only depends on the length, which the replace keeps.
        bodies = [snappy_literal(slice_body(s, a.batch)) for s in range(slices)]
        if any(b.count(pattern) != a.batch for b in bodies):
            raise SystemExit("the timestamp pattern also occurs in a snappy header")

        def body_of(k):
            return bodies[k % slices].replace(pattern, varint(a.base_ms + (k // slices) * 1000))
    else:
        snappy = Snappy()
        protos = [slice_body(s, a.batch) for s in range(slices)]
        compressed = [snappy.compress(protos[k % slices].replace(
            pattern, varint(a.base_ms + (k // slices) * 1000))) for k in range(total)]
        del protos

        def body_of(k):
            return compressed[k]
    u = urllib.parse.urlsplit(a.url)
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
               "X-Prometheus-Remote-Write-Version": "0.1.0", "User-Agent": "rwgen"}

    lock = threading.Lock()
    state = {"next": 0, "accepted": [0] * slices, "statuses": {}, "retries_busy": 0,
             "retries_error": 0, "late": 0, "gave_up": 0, "refused": 0, "last_ok": None, "body_bytes": 0,
             "late_s_max": 0.0}
    t0 = time.monotonic() + 0.5

    def sender():
        conn = None
        while True:
            with lock:
                k = state["next"]
                if k >= total:
                    return
                state["next"] += 1
            due = t0 + k / per_s
            now = time.monotonic()
            if now < due:
                time.sleep(due - now)
            elif now - t0 > a.max_wall:
                with lock:
                    state["late"] += 1
                continue
            with lock:
                state["late_s_max"] = max(state["late_s_max"], time.monotonic() - due)
            s = k % slices
            data = body_of(k)
            while True:  # same request until taken; bounded by max_wall * 3
                if time.monotonic() - t0 > a.max_wall * 3:
                    with lock:
                        state["gave_up"] += 1
                    break
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
                    conn.request("POST", u.path, body=data, headers=headers)
                    r = conn.getresponse()
                    r.read()
                    st = r.status
                except (OSError, http.client.HTTPException):
                    if conn is not None:
                        conn.close()
                    conn = None
                    with lock:
                        state["retries_error"] += 1
                    time.sleep(0.2)
                    continue
                with lock:
                    state["statuses"][st] = state["statuses"].get(st, 0) + 1
                if 200 <= st < 300:
                    with lock:
                        state["accepted"][s] += 1
                        state["body_bytes"] += len(data)
                        state["last_ok"] = time.monotonic()
                    break
                if st in (429, 503):
                    with lock:
                        state["retries_busy"] += 1
                    try:
                        wait = float(r.getheader("Retry-After", "1"))
                    except ValueError:
                        wait = 1.0
                    time.sleep(min(max(wait, 0.05), 5.0))
                    continue
                with lock:  # any other answer: not retried, reported
                    state["refused"] += 1
                break

    cpu0 = sum(os.times()[:2])
    threads = [threading.Thread(target=sender) for _ in range(a.senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(a.max_wall * 3 + 120)
    cpu = sum(os.times()[:2]) - cpu0
    accepted = sum(state["accepted"])
    wall = (state["last_ok"] - t0) if state["last_ok"] else None
    print(json.dumps({
        "requests_offered": total, "requests_accepted": accepted,
        "samples_accepted": accepted * a.batch, "accepted_per_slice": state["accepted"],
        "batch": a.batch, "slices": slices, "statuses": state["statuses"],
        "retries_busy": state["retries_busy"], "retries_error": state["retries_error"],
        "late": state["late"], "gave_up": state["gave_up"], "refused": state["refused"],
        "wall_s": wall,
        "samples_per_s": (accepted * a.batch / wall) if wall else None,
        "late_s_max": state["late_s_max"], "prep_s": t0 - STARTED,
        "body_bytes": state["body_bytes"], "snappy": a.snappy, "cpu_s": cpu}),
        flush=True)


if __name__ == "__main__":
    main()
