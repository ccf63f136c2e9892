#!/usr/bin/env python3
"""Scrape targets for the side-by-side benchmark (bench/e2e/run.sh).

Generates kube-state-metrics-shaped expositions for a cluster of --pods pods
(30 series per pod, modelled on ../shared/fixtures/ksm/ captures), split over
--ksm-shards endpoints as kube-state-metrics sharding does, plus
--node-targets node-exporter-shaped endpoints (the node_exporter e2e fixture).
Every body is rendered once, in --variants versions whose values differ (a
scrape gets the next version), and gzip-compressed once; serving is a memory
copy. Each target listens on its own 127.0.0.1 port (so each has its own
`instance`), in one thread per connection.

Ports: with --port-base B and --layouts N, target i listens on B + 100*L + i
for every layout L < N (the same target behind N addresses). vmagent and
Prometheus derive each target's scrape phase from a hash of its URL, so the
ports decide which big scrapes overlap, and with them the scrapers' peak
memory; fixed ports give every run of the bench the same overlaps, and N
layouts let a run measure N of them. --port-base 0 takes ephemeral ports
(one layout).

A control port answers:
  GET /open     serve the bodies (from now on, count what is served)
  GET /close    answer 503 from now on (the measuring window is over)
  GET /reset    zero the counters
  GET /stats    JSON: per target its series per body, bodies served, the
                slowest serve in seconds, and the process' CPU seconds
When ready it writes JSON ({"control": port, "targets": [{..., "ports": [one per
layout]}]}) to --ports-file.
"""
import argparse
import gzip
import hashlib
import json
import os
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAMESPACES = ["default", "kube-system", "monitoring", "payments", "checkout", "search",
              "ingest", "web", "batch", "ml-serving", "logging", "auth"]
OWNER_KINDS = ["ReplicaSet", "ReplicaSet", "ReplicaSet", "StatefulSet", "DaemonSet", "Job"]
PODS_PER_NODE = 30

HELP = {
    "kube_pod_info": ("gauge", "[STABLE] Information about pod."),
    "kube_pod_owner": ("gauge", "[STABLE] Information about the Pod's owner."),
    "kube_pod_created": ("gauge", "[STABLE] Unix creation timestamp"),
    "kube_pod_start_time": ("gauge", "[STABLE] Start time in unix timestamp for a pod."),
    "kube_pod_ips": ("gauge", "Pod IP addresses"),
    "kube_pod_restart_policy": ("gauge", "[STABLE] Describes the restart policy in use by this pod."),
    "kube_pod_service_account": ("gauge", "The service account for a pod."),
    "kube_pod_status_phase": ("gauge", "[STABLE] The pods current phase."),
    "kube_pod_status_ready": ("gauge", "[STABLE] Describes whether the pod is ready to serve requests."),
    "kube_pod_status_scheduled": ("gauge", "[STABLE] Describes the status of the scheduling process for the pod."),
    "kube_pod_status_ready_time": ("gauge", "Readiness achieved time in unix timestamp for a pod."),
    "kube_pod_container_info": ("gauge", "[STABLE] Information about a container in a pod."),
    "kube_pod_container_status_ready": ("gauge", "[STABLE] Describes whether the containers readiness check succeeded."),
    "kube_pod_container_status_running": ("gauge", "[STABLE] Describes whether the container is currently in running state."),
    "kube_pod_container_status_waiting": ("gauge", "[STABLE] Describes whether the container is currently in waiting state."),
    "kube_pod_container_status_terminated": ("gauge", "[STABLE] Describes whether the container is currently in terminated state."),
    "kube_pod_container_status_restarts_total": ("counter", "[STABLE] The number of container restarts per container."),
    "kube_pod_container_state_started": ("gauge", "[STABLE] Start time in unix timestamp for a pod container."),
    "kube_pod_container_resource_requests": ("gauge", "The number of requested request resource by a container."),
    "kube_pod_container_resource_limits": ("gauge", "The number of requested limit resource by a container."),
}
ORDER = list(HELP)  # kube-state-metrics writes one family after the other


def pod_lines(i, variant, out):
    """Appends the 30 series of pod i to out[family]."""
    h = hashlib.blake2b(i.to_bytes(8, "little"), digest_size=16).digest()
    uid = str(uuid.UUID(bytes=h))
    ns = NAMESPACES[i % len(NAMESPACES)]
    app = f"app{(i // 7) % 1500:04d}"
    kind = OWNER_KINDS[i % len(OWNER_KINDS)]
    rs = f"{app}-{h[0]:02x}{h[1]:02x}{h[2]:02x}{h[3] % 16:x}"
    pod = f"{rs}-{h[4]:02x}{h[5]:02x}{h[6] % 16:x}"
    node = f"ip-10-{(i // PODS_PER_NODE) // 250 % 250}-{(i // PODS_PER_NODE) % 250}-{h[7] % 200 + 10}.ec2.internal"
    host_ip = f"10.{(i // PODS_PER_NODE) // 250 % 250}.{(i // PODS_PER_NODE) % 250}.{h[7] % 200 + 10}"
    pod_ip = f"100.{64 + (i >> 16) % 64}.{(i >> 8) % 256}.{i % 256}"
    container = app.replace("app", "srv")
    created = 1762283303 + (i * 37) % 86400
    base = f'namespace="{ns}",pod="{pod}",uid="{uid}"'
    cbase = f'{base},container="{container}"'
    restarts = (i % 3) + variant  # changes between scrapes
    phase = "Running"
    o = out
    o["kube_pod_info"].append(
        f'kube_pod_info{{{base},host_ip="{host_ip}",pod_ip="{pod_ip}",node="{node}",'
        f'created_by_kind="{kind}",created_by_name="{rs}",priority_class="",host_network="false"}} 1\n')
    o["kube_pod_owner"].append(
        f'kube_pod_owner{{{base},owner_kind="{kind}",owner_name="{rs}",owner_is_controller="true"}} 1\n')
    o["kube_pod_created"].append(f'kube_pod_created{{{base}}} {created}\n')
    o["kube_pod_start_time"].append(f'kube_pod_start_time{{{base}}} {created + 1}\n')
    o["kube_pod_ips"].append(f'kube_pod_ips{{{base},ip="{pod_ip}",ip_family="4"}} 1\n')
    o["kube_pod_restart_policy"].append(f'kube_pod_restart_policy{{{base},type="Always"}} 1\n')
    o["kube_pod_service_account"].append(
        f'kube_pod_service_account{{{base},service_account="{app}"}} 1\n')
    for p in ("Pending", "Succeeded", "Failed", "Unknown", "Running"):
        o["kube_pod_status_phase"].append(
            f'kube_pod_status_phase{{{base},phase="{p}"}} {1 if p == phase else 0}\n')
    for c in ("true", "false", "unknown"):
        o["kube_pod_status_ready"].append(
            f'kube_pod_status_ready{{{base},condition="{c}"}} {1 if c == "true" else 0}\n')
    for c in ("true", "false", "unknown"):
        o["kube_pod_status_scheduled"].append(
            f'kube_pod_status_scheduled{{{base},condition="{c}"}} {1 if c == "true" else 0}\n')
    o["kube_pod_status_ready_time"].append(
        f'kube_pod_status_ready_time{{{base}}} {created + 10 + variant}\n')
    o["kube_pod_container_info"].append(
        f'kube_pod_container_info{{{cbase},image_spec="registry.example.com/{app}:v1.{i % 9}",'
        f'image="registry.example.com/{app}:v1.{i % 9}",'
        f'image_id="registry.example.com/{app}@sha256:{hashlib.sha256(app.encode()).hexdigest()}",'
        f'container_id="containerd://{hashlib.sha256(uid.encode()).hexdigest()}"}} 1\n')
    o["kube_pod_container_status_ready"].append(f'kube_pod_container_status_ready{{{cbase}}} 1\n')
    o["kube_pod_container_status_running"].append(f'kube_pod_container_status_running{{{cbase}}} 1\n')
    o["kube_pod_container_status_waiting"].append(f'kube_pod_container_status_waiting{{{cbase}}} 0\n')
    o["kube_pod_container_status_terminated"].append(
        f'kube_pod_container_status_terminated{{{cbase}}} 0\n')
    o["kube_pod_container_status_restarts_total"].append(
        f'kube_pod_container_status_restarts_total{{{cbase}}} {restarts}\n')
    o["kube_pod_container_state_started"].append(
        f'kube_pod_container_state_started{{{cbase}}} {created + 9}\n')
    cpu_req = [0.05, 0.1, 0.2, 0.25, 0.5, 1][i % 6]
    mem_req = [67108864, 134217728, 268435456, 536870912][i % 4]
    for res, unit, req in (("cpu", "core", cpu_req), ("memory", "byte", mem_req)):
        o["kube_pod_container_resource_requests"].append(
            f'kube_pod_container_resource_requests{{{cbase},node="{node}",resource="{res}",unit="{unit}"}} {req}\n')
        o["kube_pod_container_resource_limits"].append(
            f'kube_pod_container_resource_limits{{{cbase},node="{node}",resource="{res}",unit="{unit}"}} {req * 2}\n')


SERIES_PER_POD = 30


def ksm_body(pods, variant):
    out = {name: [] for name in ORDER}
    for i in pods:
        pod_lines(i, variant, out)
    parts = []
    n = 0
    for name in ORDER:
        typ, help_ = HELP[name]
        parts.append(f"# HELP {name} {help_}\n# TYPE {name} {typ}\n")
        parts.extend(out[name])
        n += len(out[name])
    assert n == SERIES_PER_POD * len(pods), (n, len(pods))
    return "".join(parts).encode(), n


def node_body(fixture, variant, index):
    """The node_exporter fixture; in variant v every counter-ish value of a
    few series moves, so values change between scrapes."""
    lines = []
    n = 0
    with open(fixture, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            if line.startswith("#"):
                lines.append(line)
                continue
            n += 1
            if variant and line.startswith(("node_cpu_seconds_total", "node_network_", "node_disk_")):
                name_labels, value = line.rsplit(" ", 1)
                try:
                    v = float(value) + variant * (index + 1)
                    line = f"{name_labels} {v:g}\n"
                except ValueError:
                    pass
            lines.append(line if line.endswith("\n") else line + "\n")
    return "".join(lines).encode(), n


class Target:
    def __init__(self, name, bodies, series):
        self.name = name
        self.bodies = bodies  # [(plain, gzipped)]
        self.series = series
        self.served = 0
        self.max_serve = 0.0
        self.failed_writes = 0
        self.lock = threading.Lock()


STATE = {"open": False}
LAYOUT_STRIDE = 100  # ports between two layouts: room for 100 targets


def make_handler(target):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            t0 = time.monotonic()
            with target.lock:  # decide and count at once: a body sent is a body counted
                is_open = STATE["open"]
                k = target.served
                if is_open:
                    target.served += 1
            if not is_open:
                body = b"closed\n"
                self.send_response(503)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            plain, gz = target.bodies[k % len(target.bodies)]
            use_gzip = "gzip" in (self.headers.get("Accept-Encoding") or "")
            body = gz if use_gzip else plain
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            if use_gzip:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
                self.wfile.flush()
            except OSError:
                with target.lock:
                    target.failed_writes += 1
                return
            dt = time.monotonic() - t0
            with target.lock:
                target.max_serve = max(target.max_serve, dt)

    return Handler


def serve(server):
    server.serve_forever(poll_interval=0.5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=10000)
    ap.add_argument("--ksm-shards", type=int, default=4)
    ap.add_argument("--node-targets", type=int, default=4)
    ap.add_argument("--node-fixture", required=True)
    ap.add_argument("--variants", type=int, default=2)
    ap.add_argument("--ports-file", required=True)
    ap.add_argument("--port-base", type=int, default=0)
    ap.add_argument("--layouts", type=int, default=1)
    args = ap.parse_args()

    t0 = time.monotonic()
    targets = []
    for s in range(args.ksm_shards):
        pods = range(s, args.pods, args.ksm_shards)
        bodies = []
        series = 0
        for v in range(args.variants):
            plain, series = ksm_body(pods, v)
            bodies.append((plain, gzip.compress(plain, compresslevel=1)))
        targets.append(Target(f"ksm-{s}", bodies, series))
    for k in range(args.node_targets):
        bodies = []
        series = 0
        for v in range(args.variants):
            plain, series = node_body(args.node_fixture, v, k)
            bodies.append((plain, gzip.compress(plain, compresslevel=1)))
        targets.append(Target(f"node-{k}", bodies, series))
    gen_s = time.monotonic() - t0

    if args.port_base and len(targets) > LAYOUT_STRIDE:
        sys.exit(f"{len(targets)} targets do not fit a layout of {LAYOUT_STRIDE} ports")
    layouts = args.layouts if args.port_base else 1
    for i, t in enumerate(targets):
        t.ports = []
        for layout in range(layouts):
            port = args.port_base + LAYOUT_STRIDE * layout + i if args.port_base else 0
            try:
                srv = ThreadingHTTPServer(("127.0.0.1", port), make_handler(t))
            except OSError as e:
                sys.exit(f"cannot listen on 127.0.0.1:{port} ({e}); choose another --port-base")
            srv.daemon_threads = True
            t.ports.append(srv.server_address[1])
            threading.Thread(target=serve, args=(srv,), daemon=True).start()

    class Control(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path == "/open":
                STATE["open"] = True
            elif self.path == "/close":
                STATE["open"] = False
            elif self.path == "/reset":
                for t in targets:
                    with t.lock:
                        t.served = 0
                        t.max_serve = 0.0
                        t.failed_writes = 0
            tm = os.times()
            body = json.dumps({
                "open": STATE["open"],
                "cpu_seconds": tm.user + tm.system,
                "targets": [{"name": t.name, "ports": t.ports, "series": t.series,
                             "served": t.served, "failed_writes": t.failed_writes,
                             "max_serve_seconds": t.max_serve,
                             "bytes": len(t.bodies[0][0]), "gzip_bytes": len(t.bodies[0][1])}
                            for t in targets],
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    ctl = ThreadingHTTPServer(("127.0.0.1", 0), Control)
    threading.Thread(target=serve, args=(ctl,), daemon=True).start()
    tmp = args.ports_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"control": ctl.server_address[1], "generate_seconds": gen_s,
                   "targets": [{"name": t.name, "ports": t.ports, "series": t.series}
                               for t in targets]}, f)
    os.rename(tmp, args.ports_file)
    # Exit with the parent (run.sh kills us too; this is the belt to its braces).
    parent = os.getppid()
    while True:
        time.sleep(1)
        if os.getppid() != parent:
            sys.exit(0)


if __name__ == "__main__":
    main()
