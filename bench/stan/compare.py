#!/usr/bin/env python3
"""Joins Stan's and ebm's NUTS lines (stan_peer.R, ebm_bench_samplers) by target and prints, per
target, both sides' ESS per gradient evaluation and ESS per second of sampling (bulk and tail,
minimum over parameters), averaged over the runs (seeds) in each file, and the ratios ebm/Stan.

  python3 bench/stan/compare.py stan.jsonl ebm.jsonl
"""
import json
import statistics
import sys
from collections import defaultdict


def load(path):
    runs = defaultdict(list)
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                d = json.loads(line)
                runs[d["target"]].append(d)
    return runs


def per(d, what, denominator):
    return d[what] / d[denominator] if d[denominator] else float("nan")


def summary(runs):
    keys = {
        "bulk/grad": ("ess_bulk_min", "grad_evals_sampling"),
        "tail/grad": ("ess_tail_min", "grad_evals_sampling"),
        "bulk/s": ("ess_bulk_min", "seconds_sampling"),
        "tail/s": ("ess_tail_min", "seconds_sampling"),
    }
    out = {k: statistics.mean(per(d, *v) for d in runs) for k, v in keys.items()}
    out["grads/draw"] = statistics.mean(d["grad_evals_sampling"] / (d["draws"] * d["chains"]) for d in runs)
    out["divergences"] = statistics.mean(d["divergences"] for d in runs)
    out["runs"] = len(runs)
    return out


def main():
    stan, ebm = load(sys.argv[1]), load(sys.argv[2])
    print("| target | runs | grads/draw Stan / ebm | ESS bulk per grad Stan / ebm (ratio) | ESS tail per grad (ratio) "
          "| ESS bulk per s (ratio) | ESS tail per s (ratio) | divergences Stan / ebm |")
    print("|---|---|---|---|---|---|---|---|")
    for target in stan:
        if target not in ebm:
            continue
        s, e = summary(stan[target]), summary(ebm[target])
        r = {k: e[k] / s[k] if s[k] else float("nan") for k in ("bulk/grad", "tail/grad", "bulk/s", "tail/s")}
        print(f"| {target} | {s['runs']}/{e['runs']} | {s['grads/draw']:.1f} / {e['grads/draw']:.1f} "
              f"| {s['bulk/grad']:.4g} / {e['bulk/grad']:.4g} ({r['bulk/grad']:.2f}) "
              f"| {s['tail/grad']:.4g} / {e['tail/grad']:.4g} ({r['tail/grad']:.2f}) "
              f"| {s['bulk/s']:.4g} / {e['bulk/s']:.4g} ({r['bulk/s']:.2f}) "
              f"| {s['tail/s']:.4g} / {e['tail/s']:.4g} ({r['tail/s']:.2f}) "
              f"| {s['divergences']:.1f} / {e['divergences']:.1f} |")


if __name__ == "__main__":
    main()
