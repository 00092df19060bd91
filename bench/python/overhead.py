#!/usr/bin/python3
"""What the Python binding adds per call, on 1 thread.

    OMP_WAIT_POLICY=passive PYTHONPATH=build/ci/python /usr/bin/python3 bench/python/overhead.py [--json]

Python side: timeit per call, best of several repeats (each repeat >= ~0.2 s). C++ side, in the
same run: `ebm --threads 1 bench --json --network ARCH` (forward = energy, grad_x = score of the
same 2-128-128-1 softplus network at batches 1, 32, 128) and `ebm bench --peer --only langevin`
(one ULA step at B = 1, 64), and, for the sampler, the per-step cost from a long ebm.sample call
(steps = LONG in one call, so the per-call cost is amortised away):

    per-call overhead of sample = (time of a 1-step call) - (per-step time of the long run)

and that overhead is split into the part measured inside the C++ run loop (Samples.seconds:
chain allocation, initial points, result assembly) and the part outside it (binding: argument
parsing, GIL, result dict and arrays; facade: request validation, initialisation, sampler setup).

The ebm CLI is $EBM_CLI, else build/ci/ebm next to the importable package.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import timeit

import numpy as np

import ebm

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def cli_path():
    if os.environ.get("EBM_CLI"):
        return os.environ["EBM_CLI"]
    pkg = os.path.dirname(os.path.abspath(ebm.__file__))  # .../build/ci/python/ebm
    cand = os.path.join(os.path.dirname(os.path.dirname(pkg)), "ebm")
    return cand if os.path.exists(cand) else os.path.join(ROOT, "build", "ci", "ebm")


def per_call(fn, repeat=9, min_time=0.2):
    """Best and median seconds per call of fn() over `repeat` repeats of `number` calls."""
    t = timeit.Timer(fn)
    number, _ = t.autorange()
    number = max(1, int(number * min_time / 0.2))
    times = [x / number for x in t.repeat(repeat=repeat, number=number)]
    return min(times), float(np.median(times)), number


def cpu():
    name = "?"
    with open("/proc/cpuinfo") as f:
        text = f.read()
    for line in text.splitlines():
        if line.startswith("model name"):
            name = line.split(":", 1)[1].strip()
            break
    return name, ("avx512f" in text.split())


def cpp_timings(cli, architecture):
    """{(workload, batch): microseconds} from the C++ benchmarks (median per step)."""
    out = {}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write(architecture)
        arch = f.name
    try:
        env = dict(os.environ, OMP_WAIT_POLICY="passive")
        for args in (["bench", "--json", "--network", arch], ["bench", "--peer", "--json", "--only", "langevin"]):
            r = subprocess.run([cli, "--threads", "1", "--quiet"] + args, capture_output=True, text=True, env=env, check=True)
            for line in r.stdout.splitlines():
                if not line.startswith("{"):
                    continue
                j = json.loads(line)
                w = j["workload"].split("/")[-1]
                if w in ("forward", "grad_x", "langevin"):
                    out[(w, j["batch"])] = j["ms"] * 1e3
    finally:
        os.unlink(arch)
    return out


def us(s):
    return s * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="also print the raw numbers as one JSON object")
    ap.add_argument("--long", type=int, default=20000, help="steps of the long sample() run")
    args = ap.parse_args()

    ebm.set_threads(1)
    name, avx512 = cpu()
    print(f"CPU: {name}; avx512f: {'yes' if avx512 else 'no'}; ebm threads: {ebm.threads()}; python {sys.version.split()[0]}; "
          f"numpy {np.__version__}; ebm from {os.path.dirname(ebm.__file__)}")
    data = ebm.datasets.make("moons", 5000, seed=0)
    model, _ = ebm.train(data, objective="sm", model="mlp:128x128:softplus", steps=300, batch=256, lr=1e-3, seed=0)
    print(f"model: {model!r} (trained 300 steps; timings do not depend on the weights)")
    raw = {"cpu": name, "avx512f": avx512}

    # ----- C++ reference timings -----
    cli = cli_path()
    cpp = cpp_timings(cli, model.architecture)
    raw["cpp_us"] = {f"{w}@{b}": v for (w, b), v in cpp.items()}

    # ----- trivial calls -----
    def noop():
        return None
    trivial = {
        "python def f(): pass": noop,
        "ebm.threads() (pybind, no args)": ebm.threads,
        "model.dim (property)": lambda: model.dim,
        "model.dtype (property -> str)": lambda: model.dtype,
    }
    print("\n== trivial calls (per call, best of 9; median) ==")
    raw["trivial_us"] = {}
    for label, fn in trivial.items():
        best, med, n = per_call(fn)
        raw["trivial_us"][label] = us(best)
        print(f"  {label:38s} {us(best):8.3f} us   (median {us(med):.3f}, {n} calls/repeat)")

    # ----- energy / score vs N -----
    rng = np.random.default_rng(0)
    mean, scale = (np.array(v) for v in model.standardization)
    sizes = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    rows = []
    raw["eval_us"] = {}
    for n in sizes:
        x64 = mean + scale * rng.standard_normal((n, 2))
        x32 = np.ascontiguousarray(x64, dtype=np.float32)
        e = us(per_call(lambda: model.energy(x32))[0])
        s = us(per_call(lambda: model.score(x32))[0])
        s64 = us(per_call(lambda: model.score(x64))[0])
        es = us(per_call(lambda: model.energy_and_score(x32))[0])
        rows.append((n, e, s, s64, es))
        raw["eval_us"][n] = {"energy_f32": e, "score_f32": s, "score_f64_input": s64, "energy_and_score_f32": es}
    print("\n== model.energy / model.score from Python, float32 model (us per call, best of 9) ==")
    print("      N   energy  C++ fwd  diff |   score  C++ grad  diff | score(f64 in) | energy_and_score")
    for n, e, s, s64, es in rows:
        cf, cg = cpp.get(("forward", n)), cpp.get(("grad_x", n))
        f = lambda v: f"{v:8.2f}" if v is not None else "       -"
        d = lambda a, b: f"{a - b:5.2f}" if b is not None else "    -"
        print(f"  {n:5d} {e:8.2f} {f(cf)} {d(e, cf)} | {s:7.2f} {f(cg)}  {d(s, cg)} | {s64:13.2f} | {es:8.2f}")
    # Fixed cost: intercept of a least-squares line through the large-N points (where the cost is linear
    # in N); the small-N points show the cost the line does not predict.
    big = [r for r in rows if r[0] >= 128]
    fit = {}
    for col, label in ((1, "energy"), (2, "score")):
        slope, icpt = np.polyfit([r[0] for r in big], [r[col] for r in big], 1)
        fit[label] = (slope, icpt)
        print(f"  {label}: large-N (N >= 128) line: {slope * 1e3:.1f} ns/point + {icpt:.2f} us intercept; "
              f"N=1 measured {rows[0][col]:.2f} us")
    raw["fit"] = {k: {"ns_per_point": a * 1e3, "intercept_us": b} for k, (a, b) in fit.items()}
    # The same C++ code path as model.score (facade energy -> EnergyEvaluator), without the binding:
    # the per-step cost of a long gradient-flow run (x += h s: one score of N points per step, plus an
    # axpy and the run loop's bookkeeping, so it slightly over-states the C++ score cost).
    flow = {}
    for n in (1, 32, 64, 128):
        steps = max(2000, 40000 // n)
        best = min(ebm.sample(model, sampler="flow", chains=n, steps=steps, burn_in=steps - 1, step_size=1e-3).seconds
                   for _ in range(5))
        flow[n] = us(best / steps)
    raw["flow_step_us"] = flow
    print("  same C++ path, per step of a long sampler='flow' run (one score of N points + axpy), vs model.score:")
    for n in flow:
        py = raw["eval_us"][n]["score_f32"]
        print(f"    N = {n:4d}: C++ {flow[n]:8.2f} us, Python model.score {py:8.2f} us => binding {py - flow[n]:6.2f} us")
    raw["binding_score_vs_flow_us"] = {n: raw["eval_us"][n]["score_f32"] - flow[n] for n in flow}
    over_e = [rows[i][1] - cpp[("forward", n)] for i, n in enumerate(sizes) if ("forward", n) in cpp]
    over_s = [rows[i][2] - cpp[("grad_x", n)] for i, n in enumerate(sizes) if ("grad_x", n) in cpp]
    print(f"  Python - C++ `bench --network` (NOT the same C++ path: the bench records nn::Network on its own tape; "
          f"the facade's evaluator is faster at N >= 32): energy {', '.join(f'{v:.2f}' for v in over_e)} us; "
          f"score {', '.join(f'{v:.2f}' for v in over_s)} us  at N = 1, 32, 128")
    raw["binding_energy_us"] = over_e
    raw["binding_score_us"] = over_s

    # ----- one Langevin step: ebm.sample(steps=1) vs the per-step cost of a long run -----
    print("\n== ebm.sample(model, sampler='ula', chains=C, steps=1, burn_in=0, step_size=0.01) ==")
    raw["sample"] = {}
    L = args.long
    for c in (1, 64):
        kw = dict(sampler="ula", chains=c, step_size=0.01, seed=0)
        one = lambda: ebm.sample(model, steps=1, burn_in=0, **kw)
        one_raw = lambda: ebm._ebm.sample(model, steps=1, burn_in=0, **kw)
        # interleaved, 5 rounds, best of each: the 1-step call, the same without the Samples wrapper, the
        # C++ run-loop time of a 1-step call, and the long run (one kept draw, so neither storage nor
        # diagnostics grow with L)
        t1s, t1_meds, t1_raws, inner1s, longs, inner = [], [], [], [], [], []
        for _ in range(5):
            b, m_, _n = per_call(one, repeat=3)
            t1s.append(b)
            t1_meds.append(m_)
            t1_raws.append(per_call(one_raw, repeat=3)[0])
            inner1s.append(min(one().seconds for _ in range(2000)))
            t = timeit.default_timer()
            r = ebm.sample(model, steps=L, burn_in=L - 1, **kw)
            longs.append(timeit.default_timer() - t)
            inner.append(r.seconds)
        t1, t1_med, t1_raw, inner1 = min(t1s), float(np.median(t1_meds)), min(t1_raws), min(inner1s)
        step = min(longs) / L
        step_inner = min(inner) / L
        # the same long run keeping every draw (draw storage, per-chain diagnostics)
        t = timeit.default_timer()
        r_all = ebm.sample(model, steps=L, burn_in=0, **kw)
        t_all = timeit.default_timer() - t
        cpp_step = cpp.get(("langevin", c))
        overhead = t1 - step
        outside = t1 - inner1
        res = {"call_1step_us": us(t1), "call_1step_median_us": us(t1_med), "call_1step_no_Samples_wrapper_us": us(t1_raw),
               "inner_seconds_1step_us": us(inner1), "long_steps": L, "long_wall_s": min(longs),
               "per_step_us": us(step), "per_step_inner_us": us(step_inner), "cpp_bench_langevin_us": cpp_step,
               "per_call_overhead_us": us(overhead), "outside_run_loop_us": us(outside),
               "long_keep_all_wall_s": t_all, "long_keep_all_inner_s": r_all.seconds}
        raw["sample"][c] = res
        print(f"  C = {c}:")
        print(f"    1-step call                      {us(t1):8.2f} us (median {us(t1_med):.2f}; _ebm.sample without the "
              f"Samples wrapper {us(t1_raw):.2f})")
        print(f"    per step, {L}-step call          {us(step):8.3f} us wall ({us(step_inner):.3f} by Samples.seconds); "
              f"C++ `bench --peer` langevin B={c}: {cpp_step:.3f} us")
        print(f"    => per-call overhead             {us(overhead):8.2f} us = 1-step call - per step")
        print(f"       of which inside the run loop  {us(inner1 - step_inner):8.2f} us (Samples.seconds of a 1-step call "
              f"{us(inner1):.2f} - per step {us(step_inner):.3f})")
        print(f"       outside the run loop          {us(outside):8.2f} us (binding + facade setup; the Samples "
              f"wrapper alone {us(t1 - t1_raw):.2f})")
        print(f"    {L}-step call keeping all draws: {t_all:.3f} s wall, {r_all.seconds:.3f} s in the run loop "
              f"=> {t_all - r_all.seconds:.3f} s of diagnostics/copies after it")

    # diagnostics fixed cost: 4 kept draws (the minimum for diagnostics) vs 1
    d4 = per_call(lambda: ebm.sample(model, sampler="ula", chains=1, steps=4, burn_in=0, step_size=0.01))[0]
    d1 = per_call(lambda: ebm.sample(model, sampler="ula", chains=1, steps=4, burn_in=3, step_size=0.01))[0]
    raw["diagnostics_4draws_us"] = us(d4 - d1)
    print(f"\n  diagnostics at the minimum (1 chain, 4 kept draws vs 1): +{us(d4 - d1):.1f} us per call "
          f"({us(d4):.1f} vs {us(d1):.1f})")

    # facade::sample asks the OS for the physical memory size on every call (a sysinfo() syscall,
    # through glibc's get_phys_pages, as os.sysconf("SC_PHYS_PAGES") does): library setup, not binding.
    sc = us(per_call(lambda: os.sysconf("SC_PHYS_PAGES"))[0])
    raw["sysinfo_syscall_us"] = sc
    print(f"  one sysinfo() syscall (os.sysconf('SC_PHYS_PAGES')), made by every sample() call: {sc:.2f} us")

    # The run loop re-takes the GIL after every step (the Ctrl-C check). Alone that is cheap; with
    # another Python thread busy, every step waits for the GIL hand-off.
    import threading
    kw = dict(sampler="ula", chains=1, steps=L, burn_in=L - 1, step_size=0.01)
    alone = min(ebm.sample(model, **kw).seconds for _ in range(3))
    box = {}
    th = threading.Thread(target=lambda: box.update(s=ebm.sample(model, **kw).seconds))
    th.start()
    spins = 0
    while th.is_alive():
        spins += 1  # pure Python, holds the GIL between switch intervals
    th.join()
    raw["gil_contention"] = {"alone_s": alone, "busy_python_thread_s": box["s"], "steps": L}
    print(f"  {L} ULA steps (C = 1) in a thread: {alone:.3f} s alone, {box['s']:.3f} s while the main thread runs "
          f"Python => {us((box['s'] - alone) / L):.2f} us more per step")

    if args.json:
        print(json.dumps(raw, default=str))


if __name__ == "__main__":
    main()
