#!/usr/bin/env python3
"""Proxy-role load bench (issue 15): the agent's `sources.listeners` under
load on loopback, end to end into a real VictoriaMetrics, side by side with
vmagent as a remote-write proxy. See bench/e2e/README.md ("Listeners");
run through `bench/e2e/run.sh --listeners`.

- wavefront: the agent with the Wavefront listener, remote-writing to a
  fresh VictoriaMetrics; wfgen.py sends 8 TCP connections x 1,000 series x
  1,000 points (8M distinct lines) as fast as TCP lets it. Checked at the
  sink: exactly 8M samples inserted, 8,000 series of exactly 1,000 each.
- remote_write: rwgen.py offers 1M samples/s for 20 s (10,000 samples per
  request, 100,000 series, real snappy bodies of ~180 KB as Prometheus sends
  them, retrying 429/503 after Retry-After) to (a) the
  agent's remote-write listener, (b) vmagent's /api/v1/write, each
  forwarding to its own fresh VictoriaMetrics. Checked at the sink: exactly
  the accepted samples, every series exactly its slice's accepted requests.

Figures per run: wall time, lines/s or samples/s, the receiver's CPU s per
million (utime+stime from /proc/<pid>/stat, from just before the load to
the moment the sink has every sample, so its forwarding is included), its
peak RSS (VmHWM), and the generator's own CPU. Rounds interleave (--repeat):
wavefront, agent RW, vmagent RW, then again; the summary is the median.
"""
import argparse
import atexit
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

import e2e  # process handling, ports, /proc readers, machine description
from e2e import HERE, REPO, cpu_seconds, free_port, http_get, start, status_kib, stop, wait_http

WF_MATCH = '{__name__=~"bench_wf_metric_.*"}'
RW_MATCH = '{__name__=~"bench_rw_metric_.*"}'


class VM:
    """A fresh VictoriaMetrics single node (its own storage directory), no
    proxy in front: the byte-counting proxy of e2e.py would cost CPU on the
    same two cores at these rates."""

    def __init__(self, workdir, tag):
        self.dir, self.port, self.proc = e2e.start_victoria_metrics(workdir, tag)
        self.write_url = f"http://127.0.0.1:{self.port}/api/v1/write"

    def rows_inserted(self):
        """Every sample VictoriaMetrics took in (before any de-duplication):
        a duplicate sent by the receiver shows here even if a query would
        not count it twice."""
        text = http_get(f"http://127.0.0.1:{self.port}/metrics", 10).decode()
        return int(sum(float(m.group(1)) for m in
                       re.finditer(r"^vm_rows_inserted_total\{[^}]*\} (\S+)$", text, re.M)))

    def query(self, q):
        return e2e.query_victoria_metrics(self.port, q)

    def scalar(self, q):
        r = self.query(q)
        return int(float(r[0]["value"][1])) if r else 0

    def by(self, q, label):
        return {x["metric"].get(label, ""): int(float(x["value"][1])) for x in self.query(q)}

    def one_series(self, match):
        url = f"http://127.0.0.1:{self.port}/api/v1/series?" + urllib.parse.urlencode(
            {"match[]": match, "start": f"{time.time() - 3 * 3600:.0f}",
             "end": f"{time.time() + 60:.0f}"})
        data = json.loads(http_get(url, 120))["data"]
        return data[0] if data else None

    def close(self):
        stop(self.proc, 30)


def agent_config(d, vm, listener, port, spool=True):
    server = free_port()
    lines = ["cluster: bench", "node: bench-node", "log_level: warn",
             f'server: {{listen: "127.0.0.1:{server}"}}', "sources:",
             "  host: {enabled: false}", "  ec2: {enabled: false}", "  listeners:",
             f'    {listener}: {{enabled: true, listen: "127.0.0.1:{port}"}}',
             "exporters:", "  prometheus: {enabled: false}",
             f'  remote_write: {{enabled: true, url: "{vm.write_url}"}}',
             f'  spool: {{enabled: {"true" if spool else "false"}, dir: "{d}/spool"}}']
    cfg = os.path.join(d, "agent.yaml")
    with open(cfg, "w") as f:
        f.write("\n".join(lines) + "\n")
    return cfg, server


def start_agent(args, d, vm, listener):
    port = free_port()
    cfg, server = agent_config(d, vm, listener, port, args.agent_spool == "on")
    cmd = [args.agent_bin, "--config", cfg]
    p = start(cmd, os.path.join(d, "agent.log"))
    if not wait_http(f"http://127.0.0.1:{server}/healthz", 30, p):
        raise RuntimeError(f"the agent did not start (see {p._log})")
    return p, port, cmd


def start_vmagent(args, d, vm):
    port = free_port()
    # The agent adds `cluster` and `node` to every sample (node cannot be
    # turned off), so vmagent adds both too: the same series reach the sink.
    cmd = ["vmagent", f"-httpListenAddr=127.0.0.1:{port}", f"-remoteWrite.url={vm.write_url}",
           "-remoteWrite.label=cluster=bench", "-remoteWrite.label=node=bench-node",
           f"-remoteWrite.tmpDataPath={d}/vmagent-data", "-loggerLevel=WARN"]
    p = start(cmd, os.path.join(d, "vmagent.log"))
    if not wait_http(f"http://127.0.0.1:{port}/health", 30, p):
        raise RuntimeError(f"vmagent did not start (see {p._log})")
    return p, port, cmd


def wait_sink(vm, proc, expected, gen_done, limit_s):
    """Polls the sink until it has inserted `expected` samples (or limit_s
    after the generator finished). Returns (cpu s of proc at that moment,
    the monotonic time, rows inserted). Then waits 5 s more and re-reads,
    so a late duplicate is still seen."""
    cpu = t = None
    while True:
        rows = vm.rows_inserted()
        now = time.monotonic()
        if rows >= expected and cpu is None:
            cpu, t = cpu_seconds(proc.pid), now
            break
        if gen_done() is not None and now - gen_done() > limit_s:
            break
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    if cpu is None:
        cpu, t = cpu_seconds(proc.pid) if proc.poll() is None else None, time.monotonic()
    time.sleep(5)
    return cpu, t, vm.rows_inserted()


def run_generator(cmd, log):
    """Starts a generator; returns (process, a function giving its end time or None)."""
    p = start(cmd, log + ".stderr")
    p.stdout_path = log
    end = {"t": None}

    def done():
        if end["t"] is None and p.poll() is not None:
            end["t"] = time.monotonic()
        return end["t"]
    return p, done


def generator_result(p, log):
    p.wait(60)
    with open(p._log) as f:
        lines = [l for l in f.read().splitlines() if l.startswith("{")]
    if not lines:
        raise RuntimeError(f"generator gave no result (see {p._log})")
    return json.loads(lines[-1])


def base_ms():
    # An hour ago, on a whole second: inside any retention, never "in the future".
    return (int(time.time()) - 3600) * 1000


def run_wavefront(args, rnd, workdir):
    tag = f"wavefront-r{rnd}"
    d = os.path.join(workdir, tag)
    os.makedirs(d)
    vm = VM(workdir, tag)
    p = None
    try:
        p, port, cmd = start_agent(args, d, vm, "wavefront")
        expected = args.connections * args.series * args.points
        time.sleep(1)
        cpu0 = cpu_seconds(p.pid)
        t0 = time.monotonic()
        gen, done = run_generator(
            [sys.executable, os.path.join(HERE, "wfgen.py"), f"--port={port}",
             f"--connections={args.connections}", f"--series={args.series}",
             f"--points={args.points}", f"--base-ms={base_ms()}"],
            os.path.join(d, "wfgen.out"))
        cpu1, t1, rows = wait_sink(vm, p, expected, done, 120)
        g = generator_result(gen, os.path.join(d, "wfgen.out"))
        hwm = status_kib(p.pid, "VmHWM") if p.poll() is None else None
        w = "[3h]"
        row = {
            "scenario": "wavefront", "round": rnd, "receiver": "kubemetrics-agent",
            "cmd": " ".join(cmd), "expected": expected, "sent": g["lines"],
            "rows_inserted": rows,
            "at_sink": vm.scalar(f"sum(count_over_time({WF_MATCH}{w}))"),
            "with_cluster": vm.scalar(
                'sum(count_over_time({__name__=~"bench_wf_metric_.*",cluster="bench"}' + w + "))"),
            "series": vm.scalar(f"count(count_over_time({WF_MATCH}{w}))"),
            "min_per_series": vm.scalar(f"min(count_over_time({WF_MATCH}{w}))"),
            "max_per_series": vm.scalar(f"max(count_over_time({WF_MATCH}{w}))"),
            "expected_series": args.connections * args.series,
            "expected_per_series": args.points,
            "example_series": vm.one_series('{__name__="bench_wf_metric_1",series="1"}'),
            "gen_wall_s": g["wall_s"], "gen_closed_s": g.get("closed_by_agent_s"),
            "gen_cpu_s": g["cpu_s"],
            "e2e_wall_s": (t1 - t0 - g["prep_s"]) if cpu1 is not None else None,
            "cpu_s": (cpu1 - cpu0) if cpu1 is not None else None, "peak_rss_kib": hwm}
        row["ok"] = (row["rows_inserted"] == expected == row["at_sink"] == row["with_cluster"]
                     and row["series"] == row["expected_series"]
                     and row["min_per_series"] == row["max_per_series"] == args.points)
        return row
    finally:
        stop(p, 30)
        vm.close()


def run_remote_write(args, rnd, workdir, receiver):
    tag = f"rw-{receiver}-r{rnd}"
    d = os.path.join(workdir, tag)
    os.makedirs(d)
    vm = VM(workdir, tag)
    p = None
    try:
        if receiver == "kubemetrics-agent":
            p, port, cmd = start_agent(args, d, vm, "remote_write")
        else:
            p, port, cmd = start_vmagent(args, d, vm)
        time.sleep(1)
        cpu0 = cpu_seconds(p.pid)
        t0 = time.monotonic()
        gen, done = run_generator(
            [sys.executable, os.path.join(HERE, "rwgen.py"),
             f"--url=http://127.0.0.1:{port}/api/v1/write", f"--rate={args.rw_rate}",
             f"--duration={args.rw_duration}", f"--batch={args.rw_batch}",
             f"--series={args.rw_series}", f"--senders={args.rw_senders}",
             f"--base-ms={base_ms()}", f"--max-wall={args.rw_duration * 4}",
             f"--snappy={args.rw_snappy}"],
            os.path.join(d, "rwgen.out"))
        # The expected count is known only once the generator ends: wait for
        # it (bounded by its own --max-wall), then for the sink.
        end = time.monotonic() + args.rw_duration * 12 + 180
        while done() is None and time.monotonic() < end:
            time.sleep(0.2)
        g = generator_result(gen, os.path.join(d, "rwgen.out"))
        expected = g["samples_accepted"]
        cpu1, t1, rows = wait_sink(vm, p, expected, done, 120)
        hwm = status_kib(p.pid, "VmHWM") if p.poll() is None else None
        w = "[3h]"
        per_min = vm.by(f"min by (batch) (count_over_time({RW_MATCH}{w}))", "batch")
        per_max = vm.by(f"max by (batch) (count_over_time({RW_MATCH}{w}))", "batch")
        per_n = vm.by(f"count by (batch) (count_over_time({RW_MATCH}{w}))", "batch")
        bad_slices = [s for s in range(g["slices"])
                      if not (per_min.get(str(s)) == per_max.get(str(s))
                              == g["accepted_per_slice"][s]
                              and per_n.get(str(s)) == args.rw_batch)]
        row = {
            "scenario": "remote_write", "round": rnd, "receiver": receiver, "cmd": " ".join(cmd),
            "offered": int(args.rw_rate * args.rw_duration), "expected": expected,
            "rows_inserted": rows,
            "at_sink": vm.scalar(f"sum(count_over_time({RW_MATCH}{w}))"),
            "with_cluster": vm.scalar(
                'sum(count_over_time({__name__=~"bench_rw_metric_.*",cluster="bench"}' + w + "))"),
            "series": vm.scalar(f"count(count_over_time({RW_MATCH}{w}))"),
            "bad_slices": bad_slices,
            "example_series": vm.one_series('{__name__="bench_rw_metric_1",series="1"}'),
            "gen": g, "gen_cpu_s": g["cpu_s"], "gen_wall_s": g["wall_s"],
            "samples_per_s": g["samples_per_s"],
            "e2e_wall_s": (t1 - t0 - g["prep_s"]) if cpu1 is not None else None,
            "cpu_s": (cpu1 - cpu0) if cpu1 is not None else None, "peak_rss_kib": hwm}
        row["ok"] = (rows == expected == row["at_sink"] == row["with_cluster"] and not bad_slices
                     and g["refused"] == 0 and g["gave_up"] == 0 and g["retries_error"] == 0)
        return row
    finally:
        stop(p, 30)
        vm.close()


# ------------------------------------------------------------------ report

def per_m(r, n_key):
    return r["cpu_s"] / (r[n_key] / 1e6) if r.get("cpu_s") is not None and r[n_key] else None


def med(rows, f):
    vals = [f(r) for r in rows if f(r) is not None]
    return statistics.median(vals) if vals else None


def fmt(x, spec):
    return "n/a" if x is None else format(x, spec)


def body_kb(rw):
    """', N KB per request' from what the generators sent, or ''."""
    sizes = [r["gen"]["body_bytes"] / r["gen"]["requests_accepted"] for r in rw
             if r["gen"].get("requests_accepted")]
    return f", {statistics.median(sizes) / 1000:,.0f} KB per request" if sizes else ""


def report(args, rows, header):
    out = [header, ""]
    wf = [r for r in rows if r["scenario"] == "wavefront"]
    if wf:
        out += ["### Wavefront listener: "
                f"{args.connections} TCP connections x {args.series * args.points:,} lines", "",
                "| round | lines sent | at sink (inserted / counted / with cluster) | series x "
                "points (min-max) | send wall s | lines/s (send) | e2e wall s | lines/s (e2e) "
                "| agent CPU s | CPU s / M lines | peak RSS MiB | generator CPU s | result |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in wf:
            out.append(
                f"| {r['round']} | {r['sent']:,} | {r['rows_inserted']:,} / {r['at_sink']:,} / "
                f"{r['with_cluster']:,} | {r['series']:,} x {r['min_per_series']}-"
                f"{r['max_per_series']} | {fmt(r['gen_wall_s'], '.1f')} | "
                f"{fmt(r['sent'] / r['gen_wall_s'] if r['gen_wall_s'] else None, ',.0f')} | "
                f"{fmt(r['e2e_wall_s'], '.1f')} | "
                f"{fmt(r['expected'] / r['e2e_wall_s'] if r['e2e_wall_s'] else None, ',.0f')} | "
                f"{fmt(r['cpu_s'], '.2f')} | {fmt(per_m(r, 'expected'), '.2f')} | "
                f"{fmt(r['peak_rss_kib'] / 1024 if r['peak_rss_kib'] else None, '.0f')} | "
                f"{fmt(r['gen_cpu_s'], '.1f')} | {'exact' if r['ok'] else '**NOT A RESULT**'} |")
        out.append("")
    rw = [r for r in rows if r["scenario"] == "remote_write"]
    if rw:
        out += [f"### Remote write: {args.rw_rate:,.0f} samples/s offered for "
                f"{args.rw_duration:.0f} s ({args.rw_batch:,} samples per request, "
                f"{args.rw_series:,} series, {args.rw_senders} connections, "
                f"{args.rw_snappy} snappy bodies{body_kb(rw)})", "",
                "| round | receiver | requests accepted / not started (late) | accepted samples | at sink (inserted / counted / with "
                "cluster) | 503/429 retries | samples/s achieved | e2e wall s | CPU s | "
                "CPU s / M samples | peak RSS MiB | generator CPU s | result |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rw:
            g = r["gen"]
            out.append(
                f"| {r['round']} | {r['receiver']} | {g['requests_accepted']:,} / {g['late']:,} | "
                f"{r['expected']:,} | {r['rows_inserted']:,} / "
                f"{r['at_sink']:,} / {r['with_cluster']:,} | {g['retries_busy']} | "
                f"{fmt(r['samples_per_s'], ',.0f')} | {fmt(r['e2e_wall_s'], '.1f')} | "
                f"{fmt(r['cpu_s'], '.2f')} | {fmt(per_m(r, 'expected'), '.2f')} | "
                f"{fmt(r['peak_rss_kib'] / 1024 if r['peak_rss_kib'] else None, '.0f')} | "
                f"{fmt(r['gen_cpu_s'], '.1f')} | "
                f"{'exact' if r['ok'] else '**NOT A RESULT** ' + json.dumps(r['bad_slices'][:5])}"
                " |")
        out.append("")
        a = [r for r in rw if r["receiver"] == "kubemetrics-agent"]
        v = [r for r in rw if r["receiver"] == "vmagent"]
        if a and v:
            ca, cv = med(a, lambda r: per_m(r, "expected")), med(v, lambda r: per_m(r, "expected"))
            ra = med(a, lambda r: r["peak_rss_kib"])
            rv = med(v, lambda r: r["peak_rss_kib"])
            sa, sv = med(a, lambda r: r["samples_per_s"]), med(v, lambda r: r["samples_per_s"])
            out += ["Medians over the rounds (agent / vmagent): "
                    f"CPU s per M samples {fmt(ca, '.2f')} / {fmt(cv, '.2f')} = "
                    f"**{fmt(ca / cv if ca and cv else None, '.2f')}x** (goal <= 0.5x); "
                    f"peak RSS {fmt(ra / 1024 if ra else None, '.0f')} / "
                    f"{fmt(rv / 1024 if rv else None, '.0f')} MiB; samples/s achieved "
                    f"{fmt(sa, ',.0f')} / {fmt(sv, ',.0f')}.", ""]
    out += ["Example series at the sink (labels):", ""]
    seen = set()
    for r in rows:
        key = (r["scenario"], r["receiver"])
        if key not in seen and r.get("example_series"):
            seen.add(key)
            out.append(f"- {key[0]} via {key[1]}: `{json.dumps(r['example_series'], sort_keys=True)}`")
    out += ["", "Command lines:", ""]
    for r in rows:
        if r["round"] == 1:
            out.append(f"- {r['scenario']} / {r['receiver']}: `{r['cmd']}`")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(prog="bench/e2e/run.sh --listeners", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listeners", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--scenarios", default="wavefront,remote_write")
    ap.add_argument("--repeat", type=int, default=2, help="interleaved rounds (default 2)")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--series", type=int, default=1000, help="Wavefront series per connection")
    ap.add_argument("--points", type=int, default=1000, help="Wavefront points per series")
    ap.add_argument("--rw-rate", type=float, default=1e6, help="samples/s offered")
    ap.add_argument("--rw-duration", type=float, default=20.0)
    ap.add_argument("--rw-batch", type=int, default=10000)
    ap.add_argument("--rw-series", type=int, default=100000)
    ap.add_argument("--rw-senders", type=int, default=8)
    ap.add_argument("--rw-snappy", choices=("real", "literal"), default="real",
                    help="remote-write bodies: real snappy as Prometheus sends (default, ~180 KB "
                         "per request) or literal-only blocks (1.4 MB; the bench before "
                         "2026-12-06)")
    ap.add_argument("--receivers", default="kubemetrics-agent,vmagent",
                    help="remote-write receivers to run (default both)")
    ap.add_argument("--agent-spool", choices=("on", "off"), default="on",
                    help="the agent's exporters.spool (default on, as in the scrape bench; its "
                         "journal records every batch)")
    ap.add_argument("--results-md", default=None,
                    help="the file whose <!-- e2e:listeners --> block to replace (default "
                         "bench/RESULTS.md, and only by a run with the default sizes, "
                         "scenarios and receivers; '' for none); the run's own "
                         "results/<time>-listeners.md is written either way")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    args.agent_bin = os.environ.get("AGENT_BIN") or os.path.join(
        REPO, "build-e2ebench", "agent", "kubemetrics-agent")
    args.built_by_run_sh = os.environ.get("KM_E2E_BUILT") == "1"
    args.git = e2e.git_state()
    args.agent_version = e2e.agent_version(args)
    args.standard = all(getattr(args, k) == ap.get_default(k) for k in (
        "connections", "series", "points", "rw_rate", "rw_duration", "rw_batch", "rw_series",
        "rw_senders", "rw_snappy", "scenarios", "receivers", "agent_spool"))
    atexit.register(e2e.cleanup)
    signal.signal(signal.SIGTERM, e2e.on_signal)
    signal.signal(signal.SIGINT, e2e.on_signal)
    scen = args.scenarios.split(",")
    workdir = tempfile.mkdtemp(prefix="km-listeners-")
    print(f"# work directory {workdir}", flush=True)
    rows = []
    loads = [os.getloadavg()]
    try:
        for rnd in range(1, args.repeat + 1):
            if "wavefront" in scen:
                rows.append(run_wavefront(args, rnd, workdir))
                print(json.dumps({k: v for k, v in rows[-1].items() if k != "cmd"}), flush=True)
                loads.append(os.getloadavg())
            if "remote_write" in scen:
                for receiver in args.receivers.split(","):
                    rows.append(run_remote_write(args, rnd, workdir, receiver))
                    print(json.dumps({k: v for k, v in rows[-1].items()
                                      if k not in ("cmd", "gen")}), flush=True)
                    loads.append(os.getloadavg())
    finally:
        e2e.cleanup()
        if not args.keep:
            import shutil
            shutil.rmtree(workdir, ignore_errors=True)
    header = "\n".join([
        f"Run {e2e.STAMP} (`bench/e2e/run.sh --listeners`), {args.repeat} round(s).", "",
        e2e.machine_and_versions(args), "",
        "Load average (1/5/15 min) before the run and after each scenario: " +
        "; ".join("/".join(f"{x:.2f}" for x in l) for l in loads) +
        " (the machine is shared: other work runs beside the bench)."])
    text = report(args, rows, header)
    print(text)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", f"{e2e.STAMP}-listeners.json"), "w") as f:
        json.dump({"rows": rows, "loads": loads}, f, indent=1)
    args.results_md = args.results_md if args.results_md is not None else (
        None if args.standard else "")
    e2e.write_results(args, text, "listeners")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
