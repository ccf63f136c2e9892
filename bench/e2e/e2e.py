#!/usr/bin/env python3
"""Side-by-side benchmark: kubemetrics-agent vs vmagent vs Prometheus (agent
mode), same targets, same interval, same external labels, each remote-writing
to a fresh VictoriaMetrics sink through a byte-counting proxy. See
bench/e2e/README.md; run through bench/e2e/run.sh.

The contestants run in --repeat interleaved rounds (round 1: agent, vmagent,
prometheus; round 2: the same order; ...), each run with a fresh process,
state and sink, so a slow drift of the machine hits all of them alike. The
table shows each contestant's median over its runs, with the min-max spread,
and the ratios to vmagent are taken between medians: one run's peak RSS is
not a result, because vmagent's (Go) heap may or may not have grown to about
twice its live data when a scrape burst comes (343 and 646 MiB in two
identical runs). A contestant's row is a result only if every one of its
runs delivered exactly the expected samples.

Two scenarios run in every round (--scenarios): `tagged`, where every
contestant adds `cluster` and `node` (vmagent `node` by a relabel rule that
fills it only where a series has none, as the others' tags do), and `plain`,
where each adds only `cluster` (vmagent a -remoteWrite.label, Prometheus an
external label, the agent `pipeline.node_tag: false`), so the three send
identical series and vmagent runs no relabeling. Each scenario gets its own
table.

CPU per sample is shown twice: over the whole run (start-up, the first
scrapes that create every series, the window and the drain, per sample at
the sink), and over the steady part of the window (from --steady-after
seconds after the start to the window's end, per sample the targets served
in that time), where no contestant is creating its series any more: a Go
program's first scrapes cost it far more than its later ones, so the two
ratios differ. A scrape served just before either end is processed just
after it; the two ends about cancel out.

Defaults: 10,000 pods, 10 s interval, 90 s window, 3 rounds (about 40 min
for both scenarios); --quick: 2,000 pods, 30 s, 1 round (about 6 min);
--memory: 33,000 pods, 30 s interval, 150 s, 1 round (about 26 min).
"""
import argparse
import atexit
import ctypes
import datetime
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHARED = os.path.join(os.path.dirname(REPO), "shared")
NODE_FIXTURE = os.path.join(SHARED, "fixtures/exposition/node_exporter/e2e-output.prom")
CLK_TCK = os.sysconf("SC_CLK_TCK")
TARGET_MATCH = '{job=~"ksm-.*|node-.*",__name__!~"up|scrape_.*"}'
ALL_MATCH = '{__name__!=""}'

STAMP = datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
PROCS = []  # every process we started: killed at exit, whatever happens


def _pdeathsig():
    # The child gets SIGKILL if this script dies without cleaning up.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def start(cmd, log, **kw):
    f = open(log, "ab")
    p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         preexec_fn=_pdeathsig, **kw)
    p._log = log
    PROCS.append(p)
    return p


def stop(p, grace=15.0):
    if p is None or p.poll() is not None:
        return
    p.terminate()
    try:
        p.wait(grace)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(5)


def cleanup(*_):
    for p in reversed(PROCS):
        try:
            stop(p, 5.0)
        except Exception:
            try:
                p.kill()
            except Exception:
                pass


def on_signal(signum, _frame):
    cleanup()
    sys.exit(128 + signum)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=10.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def wait_http(url, deadline_s, proc=None):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            http_get(url, 2.0)
            return True
        except Exception:
            time.sleep(0.2)
    return False


def wait_file(path, deadline_s, proc):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"{path} did not appear (see {proc._log})")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def disk_write_bytes(pid):
    """Bytes the process has sent, or will send, to a block device: its
    dirtied page-cache bytes less those cancelled because the file was
    truncated or deleted before writeback (/proc/PID/io, all threads). A
    file written and deleted within the writeback delay costs nothing here,
    so this is what reaches the disk, not what passed write(). 0 on a
    tmpfs work directory."""
    with open(f"/proc/{pid}/io") as f:
        io = dict(line.split(": ") for line in f.read().splitlines())
    return int(io["write_bytes"]) - int(io["cancelled_write_bytes"])


def workdir_fs(path):
    """The filesystem type under `path` (tmpfs would hide every disk write)."""
    out = subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "-T", path], capture_output=True,
                         text=True)
    return out.stdout.strip() or "an unknown filesystem"


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def parse_metrics(text, names):
    """Sum of every series of each metric in names, from a /metrics page."""
    out = {n: 0.0 for n in names}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if m and m.group(1) in out:
            try:
                out[m.group(1)] += float(m.group(3))
            except ValueError:
                pass
    return out


def query_victoria_metrics(port, q):
    """An instant query of VictoriaMetrics on 127.0.0.1:`port`, after a flush
    so that every sample inserted so far counts."""
    http_get(f"http://127.0.0.1:{port}/internal/force_flush", 30)
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode(
        {"query": q, "time": f"{time.time() + 1:.3f}"})
    res = json.loads(http_get(url, 300))
    if res.get("status") != "success":
        raise RuntimeError(f"query {q}: {res}")
    return res["data"]["result"]


def start_victoria_metrics(workdir, tag):
    """A fresh VictoriaMetrics single node on 127.0.0.1 with its own storage
    and no query limits in the way of counting every sample: (dir, port,
    process)."""
    data = os.path.join(workdir, f"vm-{tag}")
    os.makedirs(data)
    port = free_port()
    proc = start(["victoria-metrics", f"-storageDataPath={data}/data",
                  f"-httpListenAddr=127.0.0.1:{port}", "-loggerLevel=WARN",
                  "-search.latencyOffset=0s", "-search.disableCache",
                  "-search.maxUniqueTimeseries=20000000", "-search.maxSeries=20000000",
                  "-search.maxSamplesPerQuery=2000000000",
                  "-search.maxQueryDuration=300s", "-retentionPeriod=100y"],
                 os.path.join(workdir, f"vm-{tag}.log"))
    if not wait_http(f"http://127.0.0.1:{port}/health", 60, proc):
        raise RuntimeError(f"victoria-metrics did not start (see {proc._log})")
    return data, port, proc


class Sink:
    """A fresh VictoriaMetrics single node and the counting proxy in front."""

    def __init__(self, workdir, tag):
        self.dir, self.port, self.proc = start_victoria_metrics(workdir, tag)
        pf = os.path.join(workdir, f"proxy-{tag}.json")
        self.proxy = start([sys.executable, os.path.join(HERE, "countproxy.py"),
                            f"--upstream=127.0.0.1:{self.port}", f"--ports-file={pf}"],
                           os.path.join(workdir, f"proxy-{tag}.log"))
        ports = wait_file(pf, 30, self.proxy)
        self.proxy_port, self.stats_port = ports["port"], ports["stats_port"]
        self.t0 = time.time()
        self.write_url = f"http://127.0.0.1:{self.proxy_port}/api/v1/write"

    def wire(self):
        with socket.create_connection(("127.0.0.1", self.stats_port), 5) as s:
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return json.loads(data)

    def query(self, q):
        return query_victoria_metrics(self.port, q)

    def window(self):
        return f"{int(time.time() - self.t0) + 120}s"

    def count(self, match, by=None, fn="count_over_time"):
        q = f"sum{f' by ({by})' if by else ''}({fn}({match}[{self.window()}]))"
        r = self.query(q)
        if by:
            return {x["metric"].get(by, ""): int(float(x["value"][1])) for x in r}
        return int(float(r[0]["value"][1])) if r else 0

    def series(self, match):
        r = self.query(f"count(last_over_time({match}[{self.window()}]))")
        return int(float(r[0]["value"][1])) if r else 0

    def labels_digest(self, match):
        """sha256 of the sorted label sets of the series matching `match`."""
        url = f"http://127.0.0.1:{self.port}/api/v1/series?" + urllib.parse.urlencode(
            {"match[]": match, "start": f"{self.t0 - 60:.0f}", "end": f"{time.time() + 60:.0f}"})
        res = json.loads(http_get(url, 300))
        sets = sorted(json.dumps(x, sort_keys=True) for x in res["data"])
        return hashlib.sha256("\n".join(sets).encode()).hexdigest()[:12], len(sets)

    def close(self):
        stop(self.proxy, 5)
        stop(self.proc, 30)
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- contestants

# What each scenario's contestants add to every series (see the docstring).
SCENARIOS = {
    "tagged": "cluster and node on every series (vmagent: node by a relabel rule)",
    "plain": "cluster only (vmagent: no relabel rule; the agent: pipeline.node_tag: false)",
}
EXTERNAL_LABELS = {"tagged": "{cluster: bench, node: bench-node}", "plain": "{cluster: bench}"}


def scrape_yaml(targets, interval, timeout, external_labels=None):
    lines = ["global:", f"  scrape_interval: {interval}s", f"  scrape_timeout: {timeout}s"]
    if external_labels:
        lines.append(f"  external_labels: {external_labels}")
    lines += ["scrape_configs:"]
    for t in targets:
        lines += [f"  - job_name: {t['name']}",
                  f"    static_configs: [{{targets: ['127.0.0.1:{t['port']}']}}]"]
    return "\n".join(lines) + "\n"


def start_agent(args, d, targets, sink, scenario="tagged", extra_prefix=()):
    port = free_port()
    lines = ["cluster: bench", "node: bench-node", "log_level: warn",
             f'server: {{listen: "127.0.0.1:{port}"}}', "sources:",
             "  host: {enabled: false}", "  ec2: {enabled: false}", "  prometheus:"]
    for t in targets:
        lines.append(f'    - {{name: {t["name"]}, url: "http://127.0.0.1:{t["port"]}/metrics", '
                     f'interval: {args.interval}s, timeout: {args.timeout}s, jitter: 0.9, '
                     f'max_body_bytes: 1GiB}}')
    lines += ["exporters:", "  prometheus: {enabled: false}",
              f'  remote_write: {{enabled: true, url: "{sink.write_url}"}}',
              f'  spool: {{enabled: true, mode: {args.agent_spool_mode}, dir: "{d}/spool"}}']
    if scenario == "plain":
        lines += ["pipeline: {node_tag: false}"]
    cfg = os.path.join(d, "agent.yaml")
    with open(cfg, "w") as f:
        f.write("\n".join(lines) + "\n")
    cmd = list(extra_prefix) + [args.agent_bin, "--config", cfg]
    p = start(cmd, os.path.join(d, "agent.log"))
    return p, f"http://127.0.0.1:{port}/metrics", cmd


def start_vmagent(args, d, targets, sink, scenario="tagged"):
    port = free_port()
    cfg = os.path.join(d, "scrape.yml")
    with open(cfg, "w") as f:
        f.write(scrape_yaml(targets, args.interval, args.timeout))
    # -remoteWrite.label overrides a label the series already has (node_exporter's
    # node_buddyinfo_blocks{node="0"}, kube_pod_info{node=...}); Prometheus'
    # external_labels and the agent's tags only fill a missing one. So `cluster`
    # (no target has it) is a -remoteWrite.label, and `node` a relabel rule that
    # sets it only where it is missing: the same series reach the sink from all three.
    # In the plain scenario nobody adds `node`, so vmagent needs no rule.
    relabel = []
    if scenario == "tagged":
        path = os.path.join(d, "relabel.yml")
        with open(path, "w") as f:
            f.write("- source_labels: [node]\n  regex: ''\n  target_label: node\n"
                    "  replacement: bench-node\n")
        relabel = [f"-remoteWrite.relabelConfig={path}"]
    cmd = ["vmagent", f"-promscrape.config={cfg}", f"-remoteWrite.url={sink.write_url}",
           "-remoteWrite.label=cluster=bench", *relabel,
           f"-remoteWrite.tmpDataPath={d}/vmagent-data", f"-httpListenAddr=127.0.0.1:{port}",
           "-promscrape.maxScrapeSize=1GB", "-loggerLevel=WARN"]
    p = start(cmd, os.path.join(d, "vmagent.log"))
    return p, f"http://127.0.0.1:{port}/metrics", cmd


def start_prometheus(args, d, targets, sink, scenario="tagged"):
    port = free_port()
    cfg = os.path.join(d, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write(scrape_yaml(targets, args.interval, args.timeout, EXTERNAL_LABELS[scenario]))
        f.write(f"remote_write:\n  - url: {sink.write_url}\n")
    cmd = ["prometheus", "--enable-feature=agent", f"--config.file={cfg}",
           f"--storage.agent.path={d}/prom-agent", f"--web.listen-address=127.0.0.1:{port}",
           "--log.level=warn"]
    p = start(cmd, os.path.join(d, "prometheus.log"))
    return p, f"http://127.0.0.1:{port}/metrics", cmd


CONTESTANTS = {"kubemetrics-agent": start_agent, "vmagent": start_vmagent,
               "prometheus-agent": start_prometheus}
OWN_METRICS = {
    "kubemetrics-agent": ("kubemetrics_exporter_push_compressed_bytes_total",
                          "kubemetrics_exporter_push_sent_samples_total"),
    "vmagent": ("vmagent_remotewrite_bytes_sent_total", "vmagent_remotewrite_block_size_rows_sum"),
    "prometheus-agent": ("prometheus_remote_storage_bytes_total",
                         "prometheus_remote_storage_samples_total"),
}
# Re-sends, to tell a slow drain caused by retries from a slow sink (each
# one's own unit: the agent counts samples, vmagent requests).
OWN_RETRIES = {
    "kubemetrics-agent": ("kubemetrics_exporter_push_retried_samples_total",
                          "kubemetrics_exporter_push_spooled_samples_total",
                          "kubemetrics_exporter_push_journaled_samples_total"),
    "vmagent": ("vmagent_remotewrite_retries_count_total",),
    "prometheus-agent": ("prometheus_remote_storage_samples_retried_total",),
}


def ctl(server, path):
    return json.loads(http_get(f"http://127.0.0.1:{server['control']}{path}", 10))


def layout(server, rnd):
    """The targets at the ports of round `rnd`'s layout (see targets.py):
    round r of every contestant scrapes the same addresses, in every run."""
    return [dict(t, port=t["ports"][(rnd - 1) % len(t["ports"])]) for t in server["targets"]]


def served_samples(stats):
    """Target samples served so far, from the target server's /stats."""
    return sum(t["served"] * t["series"] for t in stats["targets"])


def run_contestant(name, rnd, args, server, workdir, scenario):
    """One run of one contestant in round `rnd` and `scenario`: a fresh
    process, work directory and sink. Returns its row (raw figures; derive()
    adds the rest)."""
    tag = f"{name}-{scenario}-r{rnd}"
    d = os.path.join(workdir, tag)
    os.makedirs(d)
    t_start = time.monotonic()
    sink = Sink(workdir, tag)
    targets = layout(server, rnd)
    row = {"name": name, "round": rnd, "scenario": scenario, "notes": []}
    p = None
    try:
        ctl(server, "/reset")
        ctl(server, "/open")
        t_open = time.monotonic()
        srv_cpu0 = ctl(server, "/stats")["cpu_seconds"]
        p, metrics_url, cmd = CONTESTANTS[name](args, d, targets, sink, scenario)
        row["command"] = " ".join(shlex.quote(c) for c in cmd)
        peak_rss = 0
        steady = None  # (time, CPU s, samples served) when the steady part began
        while time.monotonic() - t_open < args.window:
            time.sleep(1.0)
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited with {p.returncode} (see {p._log})")
            peak_rss = max(peak_rss, status_kib(p.pid, "VmRSS"))
            if steady is None and time.monotonic() - t_open >= args.steady_after:
                steady = (time.monotonic(), cpu_seconds(p.pid),
                          served_samples(ctl(server, "/stats")))
        steady_cpu_end = cpu_seconds(p.pid)
        st = ctl(server, "/close")
        window_end = time.monotonic()
        row["window_s"] = window_end - t_open
        row["server_cpu_s"] = st["cpu_seconds"] - srv_cpu0
        row["server_max_serve_s"] = max(t["max_serve_seconds"] for t in st["targets"])
        row["failed_writes"] = sum(t["failed_writes"] for t in st["targets"])
        row["scrapes"] = {t["name"]: t["served"] for t in st["targets"]}
        expected = served_samples(st)
        expected_by_job = {t["name"]: t["served"] * t["series"] for t in st["targets"]}
        row["expected"] = expected
        if steady is not None:
            row["steady_s"] = window_end - steady[0]
            row["steady_cpu_s"] = steady_cpu_end - steady[1]
            row["steady_samples"] = expected - steady[2]
        # Wait for everything served in the window to reach the sink.
        end = time.monotonic() + args.drain
        got = -1
        while time.monotonic() < end:
            got = sink.count(TARGET_MATCH)
            if got >= expected:
                break
            if p.poll() is not None:
                break
            time.sleep(2.0)
        row["drain_s"] = time.monotonic() - t_open - row["window_s"]
        row["cpu_s"] = cpu_seconds(p.pid) if p.poll() is None else float("nan")
        row["disk_bytes"] = disk_write_bytes(p.pid) if p.poll() is None else float("nan")
        row["received"] = got
        if got != expected:
            by_job = sink.count(TARGET_MATCH, by="job")
            row["notes"].append("per job (received/expected): " + ", ".join(
                f"{j} {by_job.get(j, 0)}/{e}" for j, e in sorted(expected_by_job.items())
                if by_job.get(j, 0) != e))
        # Let the last requests (and the staleness markers vmagent and
        # Prometheus write when the targets answer 503) arrive, then count
        # everything that crossed the wire.
        time.sleep(args.settle)
        row["all_samples"] = sink.count(ALL_MATCH)
        try:
            row["stale_markers"] = sink.count(ALL_MATCH, fn="stale_samples_over_time")
        except Exception as e:  # older VictoriaMetrics
            row["stale_markers"] = 0
            row["notes"].append(f"stale markers not counted: {e}")
        row["active_series"] = sink.series(TARGET_MATCH)
        try:
            row["labels_digest"] = sink.labels_digest(
                '{job=~"ksm-0|node-0",__name__!~"up|scrape_.*"}')
        except Exception as e:
            row["labels_digest"] = (f"n/a ({e})", 0)
        row["wire_bytes"] = sink.wire()["client_to_upstream"]
        row["peak_rss_kib"] = max(status_kib(p.pid, "VmHWM"), peak_rss)
        try:
            page = http_get(metrics_url, 10).decode()
            with open(os.path.join(d, "final-metrics.txt"), "w") as f:
                f.write(page)  # for a post-mortem with --keep
            own = parse_metrics(page, OWN_METRICS[name])
            row["own_bytes"], row["own_samples"] = (own[k] for k in OWN_METRICS[name])
            row["retries"] = parse_metrics(page, OWN_RETRIES[name])
        except Exception as e:
            row["own_bytes"] = row["own_samples"] = float("nan")
            row["notes"].append(f"own metrics unavailable: {e}")
    except Exception as e:
        row["error"] = str(e)
    finally:
        stop(p, 20)
        sink.close()
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)
        row["elapsed_s"] = time.monotonic() - t_start
    return row


RATIO_KEYS = ("cpu_per_msample", "steady_cpu_per_msample", "peak_rss_kib",
              "wire_bytes_per_sample")


def finite(x):
    return isinstance(x, (int, float)) and x == x


def derive(runs):
    """Per run: ok (exactly the expected samples at the sink), the per-sample
    figures, and the ratios to vmagent's run of the same round and scenario (shown per round
    only: the result is the ratio between medians, see summarize())."""
    for r in runs:
        r["ok"] = ("error" not in r and r.get("received") == r.get("expected")
                   and r.get("expected", 0) > 0)
        if "error" in r:
            continue
        r["cpu_per_msample"] = r["cpu_s"] / (r["received"] / 1e6) if r["received"] > 0 else float("nan")
        r["steady_cpu_per_msample"] = (r["steady_cpu_s"] / (r["steady_samples"] / 1e6)
                                       if r.get("steady_samples", 0) > 0 else float("nan"))
        on_wire = r["all_samples"] + r["stale_markers"]
        r["wire_bytes_per_sample"] = r["wire_bytes"] / on_wire if on_wire else float("nan")
        r["disk_bytes_per_sample"] = (r["disk_bytes"] / r["received"] if r["received"] > 0
                                      else float("nan"))
        r["own_bytes_per_sample"] = (r["own_bytes"] / r["own_samples"]
                                     if r.get("own_samples") else float("nan"))
    for r in runs:
        base = next((b for b in runs if b["name"] == "vmagent" and b["round"] == r["round"]
                     and b["scenario"] == r["scenario"] and b["ok"]), None)
        for k in RATIO_KEYS:
            r[k + "_ratio"] = (r[k] / base[k] if base and r["ok"] and base[k] else float("nan"))
    return runs


def summarize(runs, names):
    """One row per contestant: the median, min and max of each figure over its
    runs, and the ratios to vmagent between medians. A row is a result (ok)
    only if every one of its runs delivered exactly the expected samples."""
    rows = []
    for name in names:
        rs = [r for r in runs if r["name"] == name]
        row = {"name": name, "repeats": len(rs), "ok_repeats": sum(1 for r in rs if r["ok"]),
               "ok": bool(rs) and all(r["ok"] for r in rs),
               "failed_rounds": [r["round"] for r in rs if not r["ok"]]}
        for k in RATIO_KEYS + ("cpu_s", "own_bytes_per_sample", "disk_bytes_per_sample"):
            vals = [r[k] for r in rs if "error" not in r and finite(r.get(k))]
            row[k] = statistics.median(vals) if vals else float("nan")
            row[k + "_min"] = min(vals) if vals else float("nan")
            row[k + "_max"] = max(vals) if vals else float("nan")
            row[k + "_runs"] = [r.get(k) for r in rs]
        rows.append(row)
    base = next((r for r in rows if r["name"] == "vmagent" and r["ok"]), None)
    for r in rows:
        for k in RATIO_KEYS:
            r[k + "_ratio"] = (r[k] / base[k] if base and r["ok"] and base[k] else float("nan"))
            r[k + "_round_ratios"] = [x[k + "_ratio"] for x in runs if x["name"] == r["name"]]
    return rows


def fmt(x, spec):
    return "n/a" if x is None or (isinstance(x, float) and x != x) else format(x, spec)


def spread(r, k, spec, scale=1.0):
    """'median (min-max)', or just the median for a single run."""
    m, lo, hi = r[k], r[k + "_min"], r[k + "_max"]
    if not finite(m):
        return "n/a"
    lo, hi = fmt(lo / scale, spec), fmt(hi / scale, spec)
    return fmt(m / scale, spec) + ("" if lo == hi else f" ({lo}-{hi})")


def table(rows):
    head = ["contestant", "runs with samples at sink = expected", "result",
            "CPU s / M samples", "x vmagent", "steady CPU s / M samples", "x vmagent",
            "peak RSS MiB", "x vmagent",
            "wire B / sample", "x vmagent", "self-reported B / sample", "disk B / sample"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        result = "ok" if r["ok"] else (
            "**NOT A RESULT** (round " + ", ".join(map(str, r["failed_rounds"])) + ")")
        out.append("| " + " | ".join([
            r["name"], f"{r['ok_repeats']} / {r['repeats']}", result,
            spread(r, "cpu_per_msample", ".2f"), fmt(r["cpu_per_msample_ratio"], ".2f"),
            spread(r, "steady_cpu_per_msample", ".2f"),
            fmt(r["steady_cpu_per_msample_ratio"], ".2f"),
            spread(r, "peak_rss_kib", ".0f", 1024), fmt(r["peak_rss_kib_ratio"], ".2f"),
            spread(r, "wire_bytes_per_sample", ".2f"), fmt(r["wire_bytes_per_sample_ratio"], ".2f"),
            spread(r, "own_bytes_per_sample", ".2f"), spread(r, "disk_bytes_per_sample", ".1f")])
            + " |")
    return "\n".join(out)


def runs_table(runs):
    """Every run, round by round, with the ratios to vmagent of the same round."""
    head = ["round", "contestant", "samples at sink / expected", "CPU s", "CPU s / M samples",
            "steady CPU s / M samples", "peak RSS MiB", "wire B / sample",
            "x vmagent (this round): CPU / steady CPU / RSS / wire"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in runs:
        if "error" in r:
            out.append(f"| {r['round']} | {r['name']} | error: {r['error']} |"
                       + " |" * (len(head) - 3))
            continue
        out.append("| " + " | ".join([
            str(r["round"]), r["name"],
            f"{r['received']:,} / {r['expected']:,}" + ("" if r["ok"] else " **NOT A RESULT**"),
            fmt(r["cpu_s"], ".2f"), fmt(r["cpu_per_msample"], ".2f"),
            fmt(r["steady_cpu_per_msample"], ".2f"),
            fmt(r["peak_rss_kib"] / 1024, ".0f"), fmt(r["wire_bytes_per_sample"], ".2f"),
            " / ".join(fmt(r[k + "_ratio"], ".2f") for k in RATIO_KEYS)]) + " |")
    return "\n".join(out)


def details(runs):
    out = []
    # Within a round: `instance` holds the round's target ports (one layout per round).
    digests = {}
    for r in runs:
        if "labels_digest" in r:
            digests.setdefault(r["round"], set()).add(r["labels_digest"][0])
    if any(len(d) > 1 for d in digests.values()):
        out.append("- **The contestants' series differ in their labels** in round(s) " +
                   ", ".join(str(k) for k, d in sorted(digests.items()) if len(d) > 1) +
                   " (digests below).")
    elif digests:
        out.append("- In every round every contestant delivered the same label sets "
                   "(ksm-0 and node-0 compared; `instance` differs between rounds, one port "
                   "layout each).")
    for r in runs:
        if "error" in r:
            continue
        sc = sorted(set(r["scrapes"].values()))
        out.append(
            f"- round {r['round']}, {r['name']}: scrapes per target {sc[0]}..{sc[-1]} in "
            f"{r['window_s']:.0f} s, {r['active_series']:,} target series at the sink (label sets "
            f"of ksm-0 and node-0: {r['labels_digest'][1]:,}, sha256 {r['labels_digest'][0]}), "
            f"drained {r['drain_s']:.1f} s after the window, {r['all_samples']:,} samples in all "
            f"at the sink (incl. up/scrape_*) + {r['stale_markers']:,} staleness markers, "
            f"{r['wire_bytes']:,} bytes on the wire; target server: {r['server_cpu_s']:.1f} CPU s, "
            f"slowest serve {r['server_max_serve_s'] * 1000:.0f} ms, {r['failed_writes']} failed "
            f"writes; {r['elapsed_s']:.0f} s in all"
            + "".join(f"; {k} {v:,.0f}" for k, v in r.get("retries", {}).items())
            + ("; " + "; ".join(r["notes"]) if r["notes"] else ""))
    return "\n".join(out)


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as e:
        return f"({e})"


def machine_and_versions(args):
    cpu = sh("lscpu | grep -E '^(Model name|CPU\\(s\\)|Thread|Core|Socket|CPU MHz|L3)'")
    mem = sh("grep MemTotal /proc/meminfo")
    return "\n".join([
        "```", cpu, f"nproc: {os.cpu_count()}", mem, platform.platform(),
        sh("uptime"), "```", "",
        "- kubemetrics-agent: " + args.agent_version,
        # The Debian build prints nothing for -version: take the package's.
        "- vmagent: " + (sh("vmagent -version 2>&1 | head -1") or "(-version prints nothing) "
                         + sh("dpkg-query -W victoria-metrics 2>/dev/null")),
        "- victoria-metrics (sink): " + (sh("victoria-metrics -version 2>&1 | head -1") or
                                         "(-version prints nothing) "
                                         + sh("dpkg-query -W victoria-metrics 2>/dev/null")),
        "- prometheus: " + sh("prometheus --version 2>&1 | head -1"),
        "- python (targets, proxy): " + platform.python_version()])


def git_state():
    """The commit the agent was built from and the uncommitted changes, as
    far as the working tree tells: run.sh builds the agent from this tree
    just before (unless AGENT_BIN is set). Changes under bench/ and tests/
    and to *.md files are listed apart: none of them goes into the agent
    binary (and bench/RESULTS.md and bench/e2e/results/ change with every run)."""
    git = f"git -C {shlex.quote(REPO)}"
    commit = sh(f"{git} rev-parse HEAD 2>/dev/null")
    try:  # not sh(): its strip() would eat the first line's leading status column
        status = subprocess.run(["git", "-C", REPO, "status", "--porcelain"], capture_output=True,
                                text=True, timeout=30).stdout
    except Exception:
        status = ""
    changed = [l[3:] for l in status.splitlines() if len(l) > 3]
    def outside(f):
        return f.startswith(("bench/", "tests/")) or f.endswith(".md")
    return {"commit": commit or "?",
            "dirty": any(not outside(f) for f in changed),
            "changed": [f for f in changed if not outside(f)],
            "changed_not_in_binary": [f for f in changed if outside(f)]}


def describe_build(args):
    g = args.git
    if not g["changed"]:
        tree = "clean tree"
    else:
        shown = ", ".join(g["changed"][:8]) + (", ..." if len(g["changed"]) > 8 else "")
        tree = f"**uncommitted changes** in {len(g['changed'])} file(s): {shown}"
    try:
        st = os.stat(args.agent_bin)
        with open(args.agent_bin, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:12]
        binary = (f"binary built {datetime.datetime.utcfromtimestamp(st.st_mtime):%Y-%m-%d %H:%M} "
                  f"UTC, sha256 {digest}")
    except OSError as e:
        binary = f"binary: {e}"
    how = ("built by run.sh (ninja, incremental) from this tree" if args.built_by_run_sh
           else "AGENT_BIN/--agent-bin given: not built by run.sh, so it may not match the tree")
    return f"commit {g['commit'][:10]}, {tree}; {how}; {binary}"


def agent_version(args):
    # `--version` exists since commit 6ba9a87; older binaries get the
    # project version from CMakeLists.txt instead.
    try:
        out = subprocess.run([args.agent_bin, "--version"], capture_output=True, text=True,
                             timeout=10)
        ver = out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.TimeoutExpired):
        ver = None
    if ver is None:
        ver = "(unknown)"
        try:
            with open(os.path.join(REPO, "CMakeLists.txt")) as f:
                m = re.search(r"project\(\S+\s+VERSION\s+(\S+)", f.read())
                ver = (m.group(1) if m else ver) + " (no --version flag; from CMakeLists.txt)"
        except OSError:
            pass
    build = "CMAKE_BUILD_TYPE=Release" if args.built_by_run_sh else "build type not known"
    return f"{ver}, {args.agent_bin} ({build}), {describe_build(args)}"


def profile(args, server, workdir):
    """The agent alone under valgrind --tool=callgrind (perf has no hardware
    counters on this machine), then its top functions by self cost; or, with
    --profile-tool=massif, its heap at the peak."""
    tool = args.profile_tool
    d = os.path.join(workdir, tool)
    os.makedirs(d)
    sink = Sink(workdir, tool)
    out = os.path.join(d, f"{tool}.out")
    p = None
    if tool == "massif":
        prefix = ("valgrind", "--tool=massif", f"--massif-out-file={out}", "--depth=12",
                  "--threshold=0.5")
    else:
        prefix = ("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no")
    try:
        ctl(server, "/reset")
        ctl(server, "/open")
        p, _, cmd = start_agent(args, d, layout(server, 1), sink, extra_prefix=prefix)
        end = time.monotonic() + args.profile_window
        while time.monotonic() < end and p.poll() is None:
            time.sleep(1)
        ctl(server, "/close")
        st = ctl(server, "/stats")
        stop(p, 120)
        served = sum(t["served"] * t["series"] for t in st["targets"])
        if tool == "massif":
            full = sh(f"ms_print {shlex.quote(out)} 2>/dev/null")
            # The graph, then the tree of the peak snapshot only.
            graph = full.split("Number of snapshots")[0]
            m = re.search(r"Detailed snapshots: \[[^\]]*?(\d+) \(peak\)", full)
            peak = ""
            if m:
                lines = full.splitlines()
                start = next((i for i, l in enumerate(lines)
                              if re.match(rf"\s+{m.group(1)}\s+[\d,]+\s+[\d,]+", l)), None)
                if start is not None:
                    end = start + 4
                    while end < len(lines) and not lines[end].startswith("---"):
                        end += 1
                    peak = "\n".join(l for l in lines[start - 2:end] if len(l) < 400 or "->" in l)
            ms = graph + "\n" + peak
            return (f"valgrind --tool=massif on the agent alone, {args.profile_window} s, "
                    f"{served:,} target samples served to it ({args.pods:,} pods, interval "
                    f"{args.interval} s):\n\n```\n{ms}\n```\n")
        ann = sh(f"callgrind_annotate --inclusive=no {shlex.quote(out)} 2>/dev/null | head -60")
        ann_inc = sh(f"callgrind_annotate --inclusive=yes {shlex.quote(out)} 2>/dev/null | head -45")
        return (f"valgrind --tool=callgrind on the agent alone, {args.profile_window} s, "
                f"{served:,} target samples served to it "
                f"({args.pods:,} pods, interval {args.interval} s):\n\n"
                f"Self cost (Ir):\n\n```\n{ann}\n```\n\nInclusive:\n\n```\n{ann_inc}\n```\n")
    finally:
        stop(p, 60)
        sink.close()


def write_results(args, text, marker):
    """Writes results/<time>-<marker>.md and, for a standard run of its mode
    (or with --results-md), replaces the marker's block in bench/RESULTS.md."""
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", f"{STAMP}-{marker}.md")
    with open(path, "w") as f:
        f.write(text)
    res = args.results_md
    if res is None:
        res = os.path.join(REPO, "bench", "RESULTS.md")
        if marker == "quick" or not args.standard:
            print(f"# {os.path.relpath(res, REPO)} left alone (a --quick run or sizes other than "
                  f"the mode's defaults; --results-md=PATH writes the block anyway)")
            return path
    if not res or not os.path.exists(res):
        return path
    with open(res) as f:
        s = f.read()
    b, e = f"<!-- e2e:{marker}:begin -->", f"<!-- e2e:{marker}:end -->"
    if b in s and e in s:
        s = s[:s.index(b) + len(b)] + "\n" + text + "\n" + s[s.index(e):]
        with open(res, "w") as f:
            f.write(s)
        print(f"# block e2e:{marker} of {res} replaced")
    else:
        print(f"# no <!-- e2e:{marker}:begin/end --> markers in {res}: not written")
    return path


# Per mode: pods, window s, interval s, repeat (the defaults of a standard run).
MODES = {"default": (10000, 90.0, 10, 3), "quick": (2000, 30.0, 10, 1),
         "memory": (33000, 150.0, 30, 1), "profile": (2000, 60.0, 10, 1)}
ALL_CONTESTANTS = "kubemetrics-agent,vmagent,prometheus-agent"
ALL_SCENARIOS = ",".join(SCENARIOS)


def main():
    ap = argparse.ArgumentParser(prog="bench/e2e/run.sh", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pods", type=int, default=None, help="cluster size (default 10000)")
    ap.add_argument("--window", type=float, default=None,
                    help="seconds each contestant run is scraped for (default 90; --quick 30, "
                         "--memory 150); each run then takes about 40 s more (drain, settle, "
                         "queries)")
    ap.add_argument("--steady-after", type=float, default=None,
                    help="seconds into the window where the steady part, whose CPU per sample "
                         "is shown beside the whole run's, begins (default: 2.5 intervals, at "
                         "most half the window: 25 s of the default 90 s)")
    ap.add_argument("--repeat", type=int, default=None,
                    help="rounds: each contestant runs once per round, in the --contestants "
                         "order, and the table shows each one's median over its runs (default "
                         "3; 1 with --quick and --memory)")
    ap.add_argument("--interval", type=int, default=None, help="scrape interval, s (default 10)")
    ap.add_argument("--ksm-shards", type=int, default=None,
                    help="kube-state-metrics endpoints (default: one per 2,500 pods, at least 4)")
    ap.add_argument("--node-targets", type=int, default=4)
    ap.add_argument("--port-base", type=int, default=19100,
                    help="target i of round r listens on 127.0.0.1:BASE+100*(r-1)+i, so every "
                         "run scrapes the same addresses: vmagent and Prometheus derive a "
                         "target's scrape phase from its URL, and which big scrapes overlap "
                         "moved vmagent's peak RSS by a third or more between runs; 0 for "
                         "ephemeral ports (default 19100)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 2,000 pods, 30 s, 1 round")
    ap.add_argument("--memory", action="store_true",
                    help="1M-active-series variant: 33,000 pods, 30 s interval, 150 s, 1 round; "
                         "peak RSS")
    ap.add_argument("--contestants", default=ALL_CONTESTANTS)
    ap.add_argument("--scenarios", default=ALL_SCENARIOS,
                    help="comma-separated, run in this order in every round: tagged (every "
                         "contestant adds cluster and node), plain (cluster only: identical "
                         "series, no relabeling in vmagent) (default: both)")
    ap.add_argument("--agent-spool-mode", choices=("wal", "overflow"), default="wal",
                    help="the agent's exporters.spool.mode (default wal, the agent's default: "
                         "every request is journaled before it is sent; overflow writes only "
                         "what cannot be delivered at once). The disk B / sample column shows "
                         "what each contestant wrote to the disk")
    ap.add_argument("--agent-bin", default=os.environ.get(
        "AGENT_BIN", os.path.join(REPO, "build-e2ebench/agent/kubemetrics-agent")))
    ap.add_argument("--profile", action="store_true",
                    help="instead: the agent alone under callgrind (2,000 pods, 60 s by default)")
    ap.add_argument("--profile-window", type=int, default=60)
    ap.add_argument("--profile-tool", choices=("callgrind", "massif"), default="callgrind")
    ap.add_argument("--results-md", default=None, metavar="PATH",
                    help="the file whose <!-- e2e:<mode> --> block to replace (default "
                         "bench/RESULTS.md, and only by a default, --memory or --profile run "
                         "with the mode's default sizes and at least its default repeats; "
                         "'' for none)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    mode = "memory" if args.memory else "quick" if args.quick else "default"
    if args.profile:
        mode = "profile"
    pods, window, interval, repeat = MODES[mode]
    if args.profile:
        window, interval = MODES["memory" if args.memory else "quick" if args.quick
                                 else "default"][1:3]
    args.pods = args.pods or pods
    args.window = args.window or window
    args.interval = args.interval or interval
    args.repeat = args.repeat or repeat
    if args.repeat < 1:
        sys.exit("--repeat must be at least 1")
    args.timeout = min(args.interval, 10)
    default_shards = max(4, -(-args.pods // 2500))
    args.standard = (args.pods == pods and args.window == window and args.interval == interval
                     and args.repeat >= repeat and args.ksm_shards in (None, default_shards)
                     and args.node_targets == 4 and args.contestants == ALL_CONTESTANTS
                     and args.scenarios == ALL_SCENARIOS and args.agent_spool_mode == "wal"
                     and args.profile_window == 60 and args.steady_after is None)
    args.ksm_shards = args.ksm_shards or default_shards
    args.drain = max(90.0, 3.0 * args.interval) + (120.0 if args.pods > 20000 else 0.0)
    args.settle = args.interval + 10.0
    if args.steady_after is None:
        # Past every target's first two scrapes (and vmagent's first-scrape
        # heap growth): 25 s of the default 90 s window leaves the 65 s
        # steady window the issue measured by hand.
        args.steady_after = min(args.window / 2, 2.5 * args.interval)
    args.built_by_run_sh = os.environ.get("KM_E2E_BUILT") == "1"
    args.git = git_state()
    args.agent_version = agent_version(args)
    if not os.access(args.agent_bin, os.X_OK):
        sys.exit(f"no agent binary at {args.agent_bin} (bench/e2e/run.sh builds it)")
    names = args.contestants.split(",")
    scenarios = args.scenarios.split(",")
    if any(sc not in SCENARIOS for sc in scenarios):
        sys.exit(f"unknown scenario in {args.scenarios}; known: {', '.join(SCENARIOS)}")
    unknown = [n for n in names if n not in CONTESTANTS]
    if unknown:
        sys.exit(f"unknown contestant(s) {', '.join(unknown)}; known: {', '.join(CONTESTANTS)}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    atexit.register(cleanup)

    workdir = tempfile.mkdtemp(prefix="km-e2ebench-")
    command = "bench/e2e/run.sh " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    started = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC")
    t_begin = time.monotonic()
    print(f"# work directory {workdir}", flush=True)
    print(f"# agent: {args.agent_version}", flush=True)
    try:
        pf = os.path.join(workdir, "targets.json")
        tproc = start([sys.executable, os.path.join(HERE, "targets.py"), f"--pods={args.pods}",
                       f"--ksm-shards={args.ksm_shards}", f"--node-targets={args.node_targets}",
                       f"--node-fixture={NODE_FIXTURE}", f"--ports-file={pf}",
                       f"--port-base={args.port_base}", f"--layouts={args.repeat}"],
                      os.path.join(workdir, "targets.log"))
        server = wait_file(pf, 600, tproc)
        series = sum(t["series"] for t in server["targets"])
        print(f"# targets: {len(server['targets'])} endpoints, {series:,} series "
              f"({args.pods:,} pods x 30 + {args.node_targets} node exporters), generated in "
              f"{server['generate_seconds']:.1f} s; interval {args.interval} s, "
              f"window {args.window:.0f} s" + ("" if args.profile else
                                               f", {args.repeat} round(s) of {len(names)} x "
                                               f"{len(scenarios)} scenario(s)"),
              flush=True)
        text = [f"### Run of {started}: `{command}`", "",
                f"{len(server['targets'])} target endpoints ({args.ksm_shards} kube-state-metrics "
                f"shards, {args.pods:,} pods x 30 series; {args.node_targets} node exporters x "
                f"{server['targets'][-1]['series']:,} series): {series:,} series, scraped every "
                f"{args.interval} s" + (" by the agent alone under valgrind." if args.profile else
                                        f" for {args.window:.0f} s by each contestant in turn, in "
                                        f"{args.repeat} interleaved round(s) ({', '.join(names)}"
                                        f", in scenario(s) {', '.join(scenarios)}"
                                        + ("; then again" if args.repeat > 1 else "")
                                        + "), each run with a fresh process and sink."),
                "", f"Agent: {describe_build(args)}; exporters.spool.mode "
                f"`{args.agent_spool_mode}`. Disk B / sample: bytes each contestant wrote to "
                f"the disk (/proc/PID/io write_bytes less cancelled_write_bytes) per sample "
                f"delivered; the work directory is on {workdir_fs(workdir)}.", ""]
        if not args.profile:
            runs = []
            for rnd in range(1, args.repeat + 1):
                for scenario in scenarios:
                    for name in names:
                        print(f"# round {rnd}/{args.repeat}, {scenario}: {name} ...", flush=True)
                        r = run_contestant(name, rnd, args, server, workdir, scenario)
                        runs.append(r)
                        print("#   " + json.dumps({k: v for k, v in r.items()
                                                   if k not in ("scrapes", "command")}), flush=True)
            derive(runs)
            took = (time.monotonic() - t_begin) / 60
            rows = {}
            text += [f"Median over the {args.repeat} run(s) of each contestant, (min-max) where "
                     "they differ; the ratios to vmagent are between medians." if args.repeat > 1
                     else "One run per contestant (1 round): the peak-RSS ratio of a single "
                     "run is noisy (vmagent's Go heap growth).", ""]
            for scenario in scenarios:
                sruns = [r for r in runs if r["scenario"] == scenario]
                rows[scenario] = summarize(sruns, names)
                t, det = table(rows[scenario]), details(sruns)
                # With one round the per-run table would repeat the summary.
                rt = runs_table(sruns) if args.repeat > 1 else ""
                head = f"#### Scenario `{scenario}`: {SCENARIOS[scenario]}"
                print()
                print(head)
                print()
                print(t)
                print()
                if rt:
                    print(rt)
                    print()
                print(det)
                text += [head, "", t, ""]
                if rt:
                    text += ["Every run (the ratios here are to vmagent's run of the same round):",
                             "", rt, ""]
                text += [det, ""]
            print(f"\n# {took:.1f} min in all")
            text += [f"{took:.1f} min in all.", "",
                     "Commands (round 1; the other rounds differ only in ports and directories):",
                     ""]
            text += [f"- {r['name']} ({r['scenario']}): `{r.get('command', '?')}`"
                     for r in runs if r["round"] == 1]
            text += ["", "Machine and versions:", "", machine_and_versions(args), ""]
            os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
            with open(os.path.join(HERE, "results", f"{STAMP}-{mode}.json"), "w") as f:
                json.dump({"command": command, "args": vars(args), "git": args.git,
                           "repeat": args.repeat, "minutes": took, "rows": rows, "runs": runs},
                          f, indent=1, default=str)
        else:
            print("# profiling the agent under callgrind ...", flush=True)
            prof = profile(args, server, workdir)
            print(prof)
            text += ["", prof]
        path = write_results(args, "\n".join(text) + "\n",
                             "massif" if mode == "profile" and args.profile_tool == "massif" else mode)
        print(f"# written to {os.path.relpath(path, REPO)}")
    finally:
        cleanup()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
