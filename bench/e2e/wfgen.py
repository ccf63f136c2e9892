#!/usr/bin/env python3
"""Wavefront line load generator for bench/e2e/listeners.py: --connections
TCP connections to 127.0.0.1:--port, each sending --series x --points
distinct lines as fast as TCP lets it, then closing. Prints one JSON line:
wall time of the sending, lines sent, its own CPU seconds.

Connection c, series i, point j is
  bench.wf.metric_<i%10> <j> <base_ms + j*1000> source=conn<c> series=<i> ...
so every (connection, series) is its own series at the sink with exactly
--points distinct millisecond timestamps. The lines of one point of one
connection (one line per series) are one pre-built chunk in which only the
value and the timestamp are replaced (bytes.replace, C speed), so the
generator costs a small fraction of what the receiver does (its CPU is in
the output to show it)."""
import argparse
import json
import os
import socket
import threading
import time

STARTED = time.monotonic()


def chunk_template(conn, series):
    lines = []
    for i in range(series):
        lines.append(f'bench.wf.metric_{i % 10} @V@ @TS@ source=conn{conn} series={i} '
                     f'env=bench app="load gen" region=us-east-1 tier=web\n')
    return "".join(lines).encode()


def send_connection(port, conn, series, points, base_ms, barrier, result):
    template = chunk_template(conn, series)
    s = socket.create_connection(("127.0.0.1", port), 30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    s.settimeout(600)  # bounded: a stuck receiver fails the run, not hangs it
    barrier.wait()
    sent = 0
    for j in range(points):
        data = template.replace(b"@TS@", str(base_ms + j * 1000).encode()).replace(
            b"@V@", str(j).encode())
        s.sendall(data)
        sent += series
    t_sent = time.monotonic()
    s.shutdown(socket.SHUT_WR)
    # Wait for the agent to close its side (it has read everything), bounded.
    s.settimeout(60)
    closed = None
    try:
        while s.recv(65536):
            pass
        closed = time.monotonic()
    except OSError:
        pass
    s.close()
    result[conn] = (sent, t_sent, closed)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--base-ms", type=int, required=True)
    a = ap.parse_args()
    barrier = threading.Barrier(a.connections + 1)
    result = {}
    threads = [threading.Thread(target=send_connection,
                                args=(a.port, c, a.series, a.points, a.base_ms, barrier, result))
               for c in range(a.connections)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.monotonic()
    cpu0 = sum(os.times()[:2])
    for t in threads:
        t.join(900)
    cpu = sum(os.times()[:2]) - cpu0
    ends = [v[1] for v in result.values()]
    closes = [v[2] for v in result.values()]
    print(json.dumps({"lines": sum(v[0] for v in result.values()),
                      "connections_done": len(result),
                      "wall_s": (max(ends) - t0) if ends else None,
                      "closed_by_agent_s": (max(closes) - t0) if closes and None not in closes
                      else None,
                      "prep_s": t0 - STARTED, "cpu_s": cpu}), flush=True)


if __name__ == "__main__":
    main()
