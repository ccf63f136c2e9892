#!/usr/bin/env python3
"""Compares the ratios to vmagent of two runs of bench/e2e/run.sh:
    bench/e2e/compare.py bench/e2e/results/A-default.json bench/e2e/results/B-default.json
and says whether each ratio of the second is within +-15% of the first."""
import json
import sys

KEYS = [("cpu_per_msample_ratio", "CPU / sample"), ("peak_rss_kib_ratio", "peak RSS"),
        ("wire_bytes_per_sample_ratio", "wire B / sample")]


def rows(path):
    with open(path) as f:
        return {r["name"]: r for r in json.load(f)["rows"]}


def main():
    a, b = rows(sys.argv[1]), rows(sys.argv[2])
    tol = float(sys.argv[3]) if len(sys.argv) > 3 else 0.15
    print("| contestant | ratio to vmagent | run 1 | run 2 | change | within +-%d%% |" % (tol * 100))
    print("|---|---|---|---|---|---|")
    all_ok = True
    for name in a:
        if name == "vmagent" or name not in b:
            continue
        for key, label in KEYS:
            x, y = a[name].get(key), b[name].get(key)
            if not isinstance(x, (int, float)) or not isinstance(y, (int, float)) or x != x or y != y:
                print(f"| {name} | {label} | {x} | {y} | n/a | no result |")
                all_ok = False
                continue
            change = (y - x) / x
            ok = abs(change) <= tol
            all_ok &= ok
            print(f"| {name} | {label} | {x:.2f} | {y:.2f} | {change * 100:+.1f}% | {'yes' if ok else 'NO'} |")
    print()
    print("all ratios within tolerance" if all_ok else "NOT all ratios within tolerance")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
