#!/usr/bin/python3
"""PyTorch (eager, CPU) side of `ebm bench --network FILE` (bench/network_workloads.cpp).

For each architecture file and batch 1, 32, 128, on the network rebuilt by
python/ebm_torch.build_module (float32, torch's default init) and inputs x ~ U[0, 1]^D:

  <stem>/forward   E(x) under no_grad (conditional networks at sigma = 0.1)
  <stem>/grad_x    autograd.grad(sum E, x)
  <stem>/dsm_step  one Adam (lr 1e-3) step of denoising score matching over the 10-level
                   geometric ladder sigma 1 .. 0.01, one level drawn per row, x fixed and the
                   noise redrawn each step. As src/train/objectives.cpp `denoising`:
                   conditional:   mean_n 1/2 |sigma_n s(x~_n, sigma_n) + eps_n|^2
                   unconditional: mean_n 1/2 |s(x~_n) + eps_n|^2  (the NCSNv2 E/sigma form, weight sigma^2)
                   with s = -grad_x E (create_graph=True) and x~ = x + sigma eps.

Timed as ../shared/bench/peer_torch.py (and `ebm bench`): one warm-up, then the median over reps
within a 2 s budget, at least 3 reps, at most 200. Prints one JSON line per case, the schema
../shared/bench/compare.py reads. Run with OpenBLAS for a fair comparison:

    LD_LIBRARY_PATH=.../openblas-pthread OPENBLAS_NUM_THREADS=T \\
      /usr/bin/python3 bench/torch_networks.py [--threads T] [--quick] [--only SUBSTR] FILE.json...
    /usr/bin/python3 bench/torch_networks.py --peak-memory FILE.json...   # ru_maxrss of dsm_step, batch 128

--peak-memory runs each file's dsm_step at batch 128 (warm-up + 5 steps) in a fresh subprocess
and prints {"impl": "pytorch", "workload": "<stem>/dsm_step", "batch": 128, "peak_rss_mb": ...,
"baseline_rss_mb": ...} (baseline: after importing torch and building the network and batch,
before the first step).
"""
import argparse
import json
import math
import pathlib
import resource
import statistics
import subprocess
import sys
import time

import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
import ebm_torch  # noqa: E402

BATCHES = (1, 32, 128)


def time_step(step, budget_s, min_reps=3, max_reps=200):
    """peer_torch.py's loop: warm-up, then median over reps within the budget."""
    step()  # warm-up
    times = []
    start = time.perf_counter()
    while len(times) < max_reps and (len(times) < min_reps or time.perf_counter() - start < budget_s):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3, len(times)


def ladder(levels=10, sigma_min=0.01, sigma_max=1.0):
    ratio = math.log(sigma_min / sigma_max) / (levels - 1)
    s = [sigma_max * math.exp(ratio * i) for i in range(levels)]
    s[-1] = sigma_min
    return torch.tensor(s, dtype=torch.float32)


def energy(net, x, sigma):
    return net(x, sigma) if net.conditional else net(x)


def dsm_loss(net, x, sigmas):
    n = x.shape[0]
    sigma = sigmas[torch.randint(len(sigmas), (n,))]
    eps = torch.randn_like(x)
    noisy = (x + sigma[:, None] * eps).requires_grad_(True)
    (g,) = torch.autograd.grad(energy(net, noisy, sigma).sum(), noisy, create_graph=True)
    scaled = sigma[:, None] * g if net.conditional else g  # sigma s or (E/sigma ladder) s
    return 0.5 * ((eps - scaled) ** 2).sum() / n


def make_case(architecture, workload, batch):
    torch.manual_seed(0)
    net = ebm_torch.build_module(architecture, dtype=torch.float32)
    x = torch.rand(batch, net.dim)
    sigma = torch.full((batch,), 0.1) if net.conditional else None
    if workload == "forward":
        def step():
            with torch.no_grad():
                return energy(net, x, sigma).sum().item()
    elif workload == "grad_x":
        def step():
            xg = x.detach().requires_grad_(True)
            return torch.autograd.grad(energy(net, xg, sigma).sum(), xg)[0]
    elif workload == "dsm_step":
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        sigmas = ladder()

        def step():
            loss = dsm_loss(net, x, sigmas)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss.item()
    else:
        raise ValueError(workload)
    return net, step


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def peak_child(path, threads):
    torch.set_num_threads(threads)
    architecture = json.loads(pathlib.Path(path).read_text())
    net, step = make_case(architecture, "dsm_step", 128)
    baseline = rss_mb()
    for _ in range(6):
        step()
    print(json.dumps({"impl": "pytorch", "workload": pathlib.Path(path).stem + "/dsm_step", "batch": 128,
                      "dim": net.dim, "threads": threads, "peak_rss_mb": round(rss_mb(), 1),
                      "baseline_rss_mb": round(baseline, 1)}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="architecture files (docs/networks.md)")
    ap.add_argument("--threads", type=int, default=1, choices=(1, 2))
    ap.add_argument("--quick", action="store_true", help="0.5 s budget per case instead of 2 s")
    ap.add_argument("--only", default="", help="run only the workloads whose name contains this")
    ap.add_argument("--peak-memory", action="store_true", help="peak RSS of dsm_step at batch 128, fresh process per file")
    ap.add_argument("--_peak-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._peak_child:
        return peak_child(args.files[0], args.threads)
    if args.peak_memory:
        for path in args.files:
            subprocess.run([sys.executable, __file__, "--_peak-child", "--threads", str(args.threads), path], check=True)
        return
    torch.set_num_threads(args.threads)
    budget = 0.5 if args.quick else 2.0
    for path in args.files:
        architecture = json.loads(pathlib.Path(path).read_text())
        stem = pathlib.Path(path).stem
        for batch in BATCHES:
            for workload in ("forward", "grad_x", "dsm_step"):
                name = f"{stem}/{workload}"
                if args.only and args.only not in name:
                    continue
                net, step = make_case(architecture, workload, batch)
                ms, reps = time_step(step, budget)
                print(json.dumps({"impl": "pytorch", "workload": name, "batch": batch, "dim": net.dim, "width": 0,
                                  "threads": torch.get_num_threads(), "ms": round(ms, 4), "reps": reps,
                                  "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
