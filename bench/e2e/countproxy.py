#!/usr/bin/env python3
"""Counting TCP proxy for the side-by-side benchmark (bench/e2e/run.sh).

Listens on 127.0.0.1 (ephemeral port), forwards every connection to
--upstream (the VictoriaMetrics sink) and counts the bytes in each direction:
what a contestant puts on the wire (HTTP request line, headers and the
compressed remote-write bodies) is `client_to_upstream`.
A second port answers every connection with one JSON line of the counters.
When ready it writes {"port": P, "stats_port": S} to --ports-file.
"""
import argparse
import asyncio
import json
import os

COUNTS = {"client_to_upstream": 0, "upstream_to_client": 0, "connections": 0}


async def pipe(reader, writer, key):
    try:
        while True:
            data = await reader.read(1 << 16)
            if not data:
                break
            COUNTS[key] += len(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def handle(client_reader, client_writer, host, port):
    COUNTS["connections"] += 1
    try:
        up_reader, up_writer = await asyncio.open_connection(host, port)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(pipe(client_reader, up_writer, "client_to_upstream"),
                         pipe(up_reader, client_writer, "upstream_to_client"))


async def stats(reader, writer):
    writer.write((json.dumps(COUNTS) + "\n").encode())
    await writer.drain()
    writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True, help="HOST:PORT")
    ap.add_argument("--ports-file", required=True)
    args = ap.parse_args()
    host, port = args.upstream.rsplit(":", 1)
    server = await asyncio.start_server(lambda r, w: handle(r, w, host, int(port)), "127.0.0.1", 0)
    stats_server = await asyncio.start_server(stats, "127.0.0.1", 0)
    tmp = args.ports_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"port": server.sockets[0].getsockname()[1],
                   "stats_port": stats_server.sockets[0].getsockname()[1]}, f)
    os.rename(tmp, args.ports_file)
    parent = os.getppid()
    while os.getppid() == parent:  # exit with the parent
        await asyncio.sleep(1)


if __name__ == "__main__":
    asyncio.run(main())
