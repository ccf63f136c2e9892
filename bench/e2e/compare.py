#!/usr/bin/env python3
"""Compares the ratios to vmagent of two runs of bench/e2e/run.sh:
    bench/e2e/compare.py bench/e2e/results/A-default.json bench/e2e/results/B-default.json [0.15]
and says whether each ratio of the second is within +-15% (or the given
tolerance) of the first. A run with --repeat N (3 by default) has, per
contestant, the median of each figure over its N runs, and its ratios are
between medians; those are what is compared. The min-max of the per-round
ratios (each run against vmagent's run of the same round) is shown beside
them, to show how much a single run would have moved. Older single-run
files (no "runs") compare as a run of one. Each scenario (tagged, plain)
both files ran is compared; files from before the scenarios hold only
`tagged`. Exits 1 unless every ratio is within the tolerance."""
import argparse
import json
import re
import sys

KEYS = [("cpu_per_msample", "CPU / sample"),
        ("steady_cpu_per_msample", "steady CPU / sample"), ("peak_rss_kib", "peak RSS"),
        ("wire_bytes_per_sample", "wire B / sample")]
SIZES = ("pods", "window", "interval", "ksm_shards", "node_targets")


def load(path):
    with open(path) as f:
        d = json.load(f)
    # Before the scenarios, "rows" was the list of the one (tagged) scenario.
    rows = d["rows"] if isinstance(d["rows"], dict) else {"tagged": d["rows"]}
    d["by_scenario"] = {sc: {r["name"]: r for r in rs} for sc, rs in rows.items()}
    d["repeat"] = d.get("repeat", 1)
    return d


def finite(x):
    return isinstance(x, (int, float)) and x == x


def fmt_missing(x):
    return "not measured" if x is None else f"{x:.2f}" if finite(x) else str(x)


def round_spread(row, key):
    vals = [x for x in row.get(key + "_round_ratios", []) if finite(x)]
    if len(vals) < 2:
        return ""
    return f" ({min(vals):.2f}-{max(vals):.2f})"


def describe(label, d):
    g = d.get("git")
    if g:
        commit = g.get("commit", "?")[:10]
        dirty = " + uncommitted changes" if g.get("dirty") else ""
    else:  # a file from before "git" was recorded: take it from the version line
        m = re.search(r"commit (\S+?),? (\+ uncommitted changes)?", d["args"].get("agent_version", ""))
        commit, dirty = (m.group(1), " + uncommitted changes" if m.group(2) else "") if m else ("?", "")
    return (f"- {label}: `{d.get('command', '?')}`, {d['repeat']} round(s), "
            f"commit {commit}{dirty}" + (f", {d['minutes']:.0f} min" if "minutes" in d else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("first")
    ap.add_argument("second")
    ap.add_argument("tolerance", nargs="?", type=float, default=0.15)
    args = ap.parse_args()
    a, b = load(args.first), load(args.second)
    tol = args.tolerance
    print(describe("run 1", a))
    print(describe("run 2", b))
    differ = [k for k in SIZES if a["args"].get(k) != b["args"].get(k)]
    if differ:
        print("- **the runs differ in** " + ", ".join(
            f"{k} ({a['args'].get(k)} vs {b['args'].get(k)})" for k in differ))
    print()
    scenarios = [sc for sc in a["by_scenario"] if sc in b["by_scenario"]]
    if not scenarios:
        print("- **no scenario in common**")
        return 1
    print("| scenario | contestant | ratio to vmagent (of medians) | run 1 (per-round min-max) "
          "| run 2 (per-round min-max) | change | within +-%g%% |" % (tol * 100))
    print("|---|---|---|---|---|---|---|")
    all_ok = True
    for scenario in scenarios:
        for name, ra in a["by_scenario"][scenario].items():
            rb = b["by_scenario"][scenario].get(name)
            if name == "vmagent" or rb is None:
                continue
            for key, label in KEYS:
                x, y = ra.get(key + "_ratio"), rb.get(key + "_ratio")
                if x is None or y is None:  # a run from before the figure existed
                    print(f"| {scenario} | {name} | {label} | {fmt_missing(x)} "
                          f"| {fmt_missing(y)} | n/a | not in both runs |")
                    continue
                if not finite(x) or not finite(y) or x == 0:
                    print(f"| {scenario} | {name} | {label} | {x} | {y} | n/a | no result |")
                    all_ok = False
                    continue
                change = (y - x) / x
                ok = abs(change) <= tol
                all_ok &= ok
                print(f"| {scenario} | {name} | {label} | {x:.2f}{round_spread(ra, key)} "
                      f"| {y:.2f}{round_spread(rb, key)} | {change * 100:+.1f}% "
                      f"| {'yes' if ok else '**NO**'} |")
    print()
    print("all ratios within tolerance" if all_ok else "NOT all ratios within tolerance")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
