#!/usr/bin/env python3
"""Strong and weak scaling of `ebm train` and `ebm sample` on this machine: one process with one
and with two threads against `mpirun -np 2` with one thread each, runs interleaved, medians of
--repeats. Prints one JSON line per configuration and a markdown table (BENCHMARKS.md).

Usage: bench/mpi/scaling.py --ebm build/release/ebm [--repeats 5] [--work /tmp/ebm-scaling]
"""
import argparse, json, os, re, statistics, subprocess, time

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--ebm", required=True)
p.add_argument("--repeats", type=int, default=5)
p.add_argument("--work", default="/tmp/ebm-scaling")
a = p.parse_args()
os.makedirs(a.work, exist_ok=True)
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_WAIT_POLICY="passive")
ebm = os.path.abspath(a.ebm)

# Data: a 64-D mixture (the peer workloads' DSM dimension) and moons for the sampler's model.
rng = np.random.default_rng(0)
x = (rng.standard_normal((20000, 64)) @ rng.standard_normal((64, 64)) * 0.3 + rng.integers(0, 4, (20000, 1))).astype(np.float32)
np.save(f"{a.work}/d64.npy", x)
subprocess.run([ebm, "data", "make", "moons", "--n", "5000", "-o", f"{a.work}/moons.csv", "--quiet"], check=True, env=env)
subprocess.run([ebm, "train", "--data", f"{a.work}/moons.csv", "--steps", "300", "-o", f"{a.work}/moons.safetensors", "--quiet"],
               check=True, env=env)


def train(batch, steps=40):
    return ["train", "--data", f"{a.work}/d64.npy", "--objective", "dsm", "--batch", str(batch), "--steps", str(steps),
            "-o", f"{a.work}/out.safetensors"]


def langevin(chains, steps=60):
    return ["sample", "--model", f"{a.work}/moons.safetensors", "--sampler", "ula", "--chains", str(chains), "--steps", str(steps),
            "--burn-in", str(steps - 1), "-o", f"{a.work}/draws.npy"]


def ais(chains):
    return ["logp", "--model", f"{a.work}/moons.safetensors", "--at", f"{a.work}/moons.csv", "--normalize", "ais",
            "--ais-chains", str(chains), "--ais-temperatures", "100", "-o", f"{a.work}/logp.csv", "--report", f"{a.work}/logp.json"]


def seconds_of(kind, stderr, work):
    """The command's own timing of its main loop (excludes process start-up and file reading)."""
    if kind == "train":
        return float(re.search(r"steps \d+\.\.\d+ in ([0-9.e+-]+) s", stderr).group(1))
    if kind == "sample":
        return float(re.search(r"draws, D = \d+, ([0-9.e+-]+) s", stderr).group(1))
    return json.load(open(f"{work}/logp.json"))["log_z"]["seconds"]


def run(args, processes, threads):
    cmd = [ebm] + args + ["--threads", str(threads)]
    if processes > 1:
        cmd = ["mpirun", "-q", "-np", str(processes), "--bind-to", "core"] + cmd
    start = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {r.stderr}")
    return seconds_of(args[0], r.stderr, a.work), wall


# (workload, scaling, args, [(label, processes, threads)]); strong: the same global work;
# weak: the work per process fixed (the 1-process run does half).
cases = [
    ("dsm step, D 64, batch 4096", "strong", train(4096), [("1 process x 1 thread", 1, 1), ("1 process x 2 threads", 1, 2), ("2 processes x 1 thread", 2, 1)]),
    ("dsm step, D 64, batch 2048 per process", "weak", None, [("1 process x 1 thread", 1, 1, train(2048)), ("2 processes x 1 thread", 2, 1, train(4096))]),
    ("ula, 200000 chains x 60 steps", "strong", langevin(200000), [("1 process x 1 thread", 1, 1), ("1 process x 2 threads", 1, 2), ("2 processes x 1 thread", 2, 1)]),
    ("ais log Z, 20000 chains x 100 temperatures", "strong", ais(20000), [("1 process x 1 thread", 1, 1), ("1 process x 2 threads", 1, 2), ("2 processes x 1 thread", 2, 1)]),
]
rows = []
for name, scaling, args, configs in cases:
    times = {c[0]: ([], []) for c in configs}
    for _ in range(a.repeats):
        for c in configs:
            label, processes, threads = c[:3]
            loop, wall = run(c[3] if len(c) > 3 else args, processes, threads)
            times[label][0].append(loop)
            times[label][1].append(wall)
    base = statistics.median(times[configs[0][0]][0])
    for c in configs:
        loop, wall = statistics.median(times[c[0]][0]), statistics.median(times[c[0]][1])
        row = {"workload": name, "scaling": scaling, "config": c[0], "loop_s": loop, "wall_s": wall,
               "speedup" if scaling == "strong" else "efficiency": base / loop}
        rows.append(row)
        print(json.dumps(row), flush=True)
print("\n| workload | scaling | configuration | loop s (median) | whole command s | vs 1 process x 1 thread |\n|---|---|---|---|---|---|")
for r in rows:
    ratio = r.get("speedup", r.get("efficiency"))
    print(f"| {r['workload']} | {r['scaling']} | {r['config']} | {r['loop_s']:.3f} | {r['wall_s']:.2f} | "
          f"{'speed-up' if r['scaling'] == 'strong' else 'efficiency'} {ratio:.2f} |")
