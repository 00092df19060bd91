#!/usr/bin/python3
"""Two moons, train then sample, in ebm and in PyTorch (eager, CPU), 1 thread each.

    OMP_WAIT_POLICY=passive PYTHONPATH=build/ci/python /usr/bin/python3 bench/python/two_moons.py [--rounds 2] [--quality-seeds 5]

The work, identical on both sides: 5000 moons points (seed 0), standardised per column (mean,
population std); exact score matching, loss mean(0.5 |grad_x E|^2 - Lap_x E) on the standardised
data, with an MLP 2-128-128-1 softplus in float32; Adam lr 1e-3, batch 256 (shuffled epochs,
drop-last), 2000 steps. Then 1000 chains x 500 ULA steps, h = 0.01, on the energy in raw data
coordinates, chains started at N(mean, std^2) per column. Quality: MMD^2 (ebm.mmd, Gaussian
kernel) between the 1000 final states and 1000 held-out moons points (seed 1), both with the
median-heuristic bandwidth of each pair and with one fixed bandwidth for all. One training run's
quality depends a lot on its seed (init, batches), so --quality-seeds K repeats the whole job with
seeds 1..K on both sides (quality only; their times are printed but are not the timed rounds).

The driver runs each side in its own process, alternating (ebm, torch, ebm, torch, ...). PyTorch
runs with OpenBLAS as ../shared/bench/WORKLOADS.md says: $EBM_OPENBLAS_DIR (default
$HOME/.cache/ebm-openblas/x/usr/lib/x86_64-linux-gnu/openblas-pthread) on LD_LIBRARY_PATH,
OPENBLAS_NUM_THREADS=1; the worker checks that libopenblas is what got loaded.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

N_DATA, N_HELD_OUT, STEPS, BATCH, LR = 5000, 1000, 2000, 256, 1e-3
CHAINS, ULA_STEPS, H = 1000, 500, 0.01


# ----- workers -----

def run_ebm(data_path, out_path, seed=0):
    import ebm
    ebm.set_threads(1)
    data = np.load(data_path)
    t = time.perf_counter()
    model, log = ebm.train(data, objective="sm", model="mlp:128x128:softplus", steps=STEPS, batch=BATCH, lr=LR, seed=seed)
    train_s = time.perf_counter() - t
    # burn_in = steps - 1: one kept draw, as the PyTorch loop keeps only the final state; this also
    # skips the per-chain diagnostics (R-hat, ESS), which ebm computes whenever >= 4 draws are kept.
    t = time.perf_counter()
    s = ebm.sample(model, sampler="ula", chains=CHAINS, steps=ULA_STEPS, burn_in=ULA_STEPS - 1, step_size=H, seed=0)
    sample_s = time.perf_counter() - t
    # the same call with the default burn-in (steps / 2): 250 draws kept per chain, diagnostics computed
    t = time.perf_counter()
    s_default = ebm.sample(model, sampler="ula", chains=CHAINS, steps=ULA_STEPS, step_size=H, seed=0)
    sample_default_s = time.perf_counter() - t
    np.save(out_path, np.asarray(s.final_state, dtype=np.float64))
    losses = [e["loss"] for e in log]
    return {"impl": "ebm", "train_s": train_s, "sample_s": sample_s, "sample_inner_s": s.seconds,
            "sample_default_burn_in_s": sample_default_s, "sample_default_inner_s": s_default.seconds,
            "loss_last100": float(np.mean(losses[-100:])), "failures": len(s.failures), "threads": ebm.threads()}


def run_torch(data_path, out_path, seed=0):
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    data = np.load(data_path)
    mu, sd = data.mean(0), data.std(0)
    z = torch.tensor((data - mu) / sd, dtype=torch.float32)
    net = torch.nn.Sequential(torch.nn.Linear(2, 128), torch.nn.Softplus(), torch.nn.Linear(128, 128), torch.nn.Softplus(),
                              torch.nn.Linear(128, 1))
    opt = torch.optim.Adam(net.parameters(), lr=LR)

    def sm_loss(x):
        x = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(net(x).sum(), x, create_graph=True)  # grad_x E = -s
        lap = torch.zeros(x.shape[0])
        for i in range(x.shape[1]):
            (row,) = torch.autograd.grad(g[:, i].sum(), x, create_graph=True)
            lap = lap + row[:, i]
        return (0.5 * (g ** 2).sum(1) - lap).mean()  # = tr(grad_x s) + 0.5 |s|^2

    gen = torch.Generator().manual_seed(seed)
    per_epoch = z.shape[0] // BATCH
    losses = []
    t = time.perf_counter()
    for step in range(STEPS):
        k = step % per_epoch
        if k == 0:
            perm = torch.randperm(z.shape[0], generator=gen)
        loss = sm_loss(z[perm[k * BATCH:(k + 1) * BATCH]])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    train_s = time.perf_counter() - t

    net.requires_grad_(False)  # sampling needs grad_x only
    mu_t, sd_t = torch.tensor(mu, dtype=torch.float32), torch.tensor(sd, dtype=torch.float32)
    t = time.perf_counter()
    x = mu_t + sd_t * torch.randn(CHAINS, 2)
    noise = (2 * H) ** 0.5
    for _ in range(ULA_STEPS):
        x.requires_grad_(True)
        (g,) = torch.autograd.grad(net((x - mu_t) / sd_t).sum(), x)
        with torch.no_grad():
            x = x - H * g + noise * torch.randn_like(x)
    sample_s = time.perf_counter() - t
    final = x.detach().numpy().astype(np.float64)
    np.save(out_path, final)
    with open("/proc/self/maps") as f:
        maps = f.read()
    blas = sorted({line.split()[-1] for line in maps.splitlines() if "blas" in line and "/" in line})
    return {"impl": "pytorch", "torch": torch.__version__, "train_s": train_s, "sample_s": sample_s,
            "loss_last100": float(np.mean(losses[-100:])), "failures": int((~np.isfinite(final).all(1)).sum()),
            "threads": torch.get_num_threads(), "blas": blas}


# ----- driver -----

def cpu():
    with open("/proc/cpuinfo") as f:
        text = f.read()
    name = next((l.split(":", 1)[1].strip() for l in text.splitlines() if l.startswith("model name")), "?")
    return name, "avx512f" in text.split()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--worker", choices=["ebm", "torch"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--quality-seeds", type=int, default=5,
                    help="after the timed rounds, train and sample with seeds 1..K on both sides (loss, MMD only)")
    args = ap.parse_args()
    if args.worker:
        r = (run_ebm if args.worker == "ebm" else run_torch)(args.data, args.out, args.seed)
        print(json.dumps(r))
        return

    import ebm
    name, avx512 = cpu()
    print(f"CPU: {name}; avx512f: {'yes' if avx512 else 'no'}")
    ob = os.environ.get("EBM_OPENBLAS_DIR",
                        os.path.expanduser("~/.cache/ebm-openblas/x/usr/lib/x86_64-linux-gnu/openblas-pthread"))
    if not os.path.exists(os.path.join(ob, "libblas.so.3")):
        sys.exit(f"two_moons.py: no OpenBLAS at {ob}; see ../shared/bench/WORKLOADS.md")
    tmp = tempfile.mkdtemp(prefix="two_moons_")
    data_path = os.path.join(tmp, "data.npy")
    np.save(data_path, ebm.datasets.make("moons", N_DATA, seed=0))
    held_out = ebm.datasets.make("moons", N_HELD_OUT, seed=1)
    reference = ebm.datasets.make("moons", N_HELD_OUT, seed=2)  # the noise floor: data vs data
    floor = ebm.mmd(reference, held_out)
    bandwidth = floor["bandwidth"]
    base_env = dict(os.environ, OMP_WAIT_POLICY="passive")
    envs = {"ebm": base_env,
            "torch": dict(base_env, LD_LIBRARY_PATH=ob + (":" + os.environ["LD_LIBRARY_PATH"] if os.environ.get("LD_LIBRARY_PATH") else ""),
                          OPENBLAS_NUM_THREADS="1")}
    def work(impl, seed, tag):
        out = os.path.join(tmp, f"{impl}{tag}.npy")
        started = time.strftime("%H:%M:%S")
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", impl, "--data", data_path, "--out", out,
                            "--seed", str(seed)], capture_output=True, text=True, env=envs[impl])
        if p.returncode != 0:
            sys.exit(f"{impl} worker failed:\n{p.stderr}")
        r = json.loads(p.stdout.strip().splitlines()[-1])
        final = np.load(out)
        final = final[np.isfinite(final).all(1)]
        r["seed"], r["started"] = seed, started
        m = ebm.mmd(final, held_out)
        r["mmd2"], r["mmd2_bw"] = m["mmd2"], m["bandwidth"]
        r["mmd2_fixed_bw"] = ebm.mmd(final, held_out, bandwidth=bandwidth)["mmd2"]
        print(json.dumps(r), flush=True)
        return r

    results = []
    for rnd in range(1, args.rounds + 1):
        for impl in ("ebm", "torch"):
            r = work(impl, 0, f"_round{rnd}")
            r["round"] = rnd
            results.append(r)
    quality = {"ebm": [], "pytorch": []}
    for seed in range(1, args.quality_seeds + 1):
        for impl in ("ebm", "torch"):
            r = work(impl, seed, f"_seed{seed}")
            quality[r["impl"]].append(r)

    print(f"\nMMD^2 noise floor (moons seed 2 vs held-out seed 1, 1000 each): {floor['mmd2']:.5f} "
          f"(median bandwidth {bandwidth:.4f}, used as the fixed bandwidth)")
    print(f"\n{'round':>5} {'impl':>8} {'start':>9} {'train s':>8} {'sample s':>9} {'loss(last100)':>14} "
          f"{'MMD^2':>9} {'MMD^2 fixed h':>14}")
    for r in results:
        print(f"{r['round']:>5} {r['impl']:>8} {r['started']:>9} {r['train_s']:8.2f} {r['sample_s']:9.3f} "
              f"{r['loss_last100']:14.4f} {r['mmd2']:9.5f} {r['mmd2_fixed_bw']:14.5f}")
    for rnd in range(1, args.rounds + 1):
        e = next(r for r in results if r["round"] == rnd and r["impl"] == "ebm")
        t = next(r for r in results if r["round"] == rnd and r["impl"] == "pytorch")
        print(f"round {rnd}: PyTorch/ebm time ratio: train {t['train_s'] / e['train_s']:.2f}x, "
              f"sample {t['sample_s'] / e['sample_s']:.2f}x; ebm sample with default burn-in (diagnostics) "
              f"{e['sample_default_burn_in_s']:.3f} s ({e['sample_default_inner_s']:.3f} s in the run loop)")
    if args.quality_seeds:
        print(f"\nquality over seeds 0..{args.quality_seeds} (seed 0 from round 1): seed: loss(last100) / MMD^2 (fixed h)")
        for impl in ("ebm", "pytorch"):
            rows = [next(r for r in results if r["round"] == 1 and r["impl"] == impl)] + quality[impl]
            cells = "  ".join(f"{r['seed']}: {r['loss_last100']:.2f} / {r['mmd2_fixed_bw']:.4f}" for r in rows)
            mm = [r["mmd2_fixed_bw"] for r in rows]
            print(f"  {impl:>8}: {cells}\n            MMD^2 median {np.median(mm):.4f}, min {min(mm):.4f}, max {max(mm):.4f}; "
                  f"train s median {np.median([r['train_s'] for r in rows]):.2f}, sample s median "
                  f"{np.median([r['sample_s'] for r in rows]):.3f}")
    blas = {tuple(r.get("blas", [])) for r in results if r["impl"] == "pytorch"}
    print(f"PyTorch BLAS loaded: {blas}")


if __name__ == "__main__":
    main()
