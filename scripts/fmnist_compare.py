#!/usr/bin/python3
"""Compare the Fashion-MNIST NCSN trained by ebm with the same network trained in PyTorch
(scripts/fmnist_torch_peer.py). Both are evaluated in torch, float32, scores by autograd.

(a) held-out DSM loss per noise level (first 2000 t10k images, fixed seeded noise, the training
    loss 1/2 |sigma s(x + sigma eps, sigma) + eps|^2 averaged over images);
(b) samples: 256 chains of annealed Langevin over the 10 levels, 100 steps per level,
    alpha_i = eps sigma_i^2 / sigma_L^2 with eps = 0.2 sigma_L^2, x <- x + alpha s + sqrt(2 alpha) z,
    from U[0,1] noise, then one Tweedie step x + sigma_L^2 s(x, sigma_L). For the ebm model also
    (and as its headline samples) `ebm sample --sampler ncsn --chains 256 --steps 1000 --denoise`;
(c) pixel-space MMD^2 (Gaussian kernel, median-heuristic bandwidth on the pooled set, unbiased
    estimator) of each sample set against 256 held-out test images, and of 256 other test images
    against those (the floor);
(d) distance to the nearest of the 60000 training images (L2, pixels in [0, 1]): mean and min per
    set, and the same for held-out test images;
(e) 8x8 grids with `ebm plot images`.

    /usr/bin/python3 scripts/fmnist_compare.py [--threads 1] [--resample]
"""
import argparse
import gzip
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
import ebm_torch  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
RUNS = "/work/runs"
EBM = os.path.join(ROOT, "build", "ci", "ebm")


def read_images(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255.0


def ladder(levels=10, sigma_min=0.01, sigma_max=1.0):
    ratio = math.log(sigma_min / sigma_max) / (levels - 1)
    s = [sigma_max * math.exp(ratio * i) for i in range(levels)]
    s[-1] = sigma_min
    return s


def score(model, x, sigma):
    """s(x, sigma) = -grad_x E(x | sigma), sigma a float or [N]."""
    x = x.detach().requires_grad_(True)
    if not torch.is_tensor(sigma):
        sigma = torch.full((x.shape[0],), float(sigma), dtype=x.dtype)
    (g,) = torch.autograd.grad(model(x, sigma).sum(), x)
    return -g


def heldout_loss(model, x, sigmas, seed=1234, chunk=500):
    """Per level: mean over images of 1/2 |sigma s(x~, sigma) + eps|^2, the same eps for every model."""
    out = []
    for i, sigma in enumerate(sigmas):
        gen = torch.Generator().manual_seed(seed + i)
        eps = torch.randn(x.shape, generator=gen)
        total = 0.0
        for a in range(0, x.shape[0], chunk):
            xb, eb = x[a:a + chunk], eps[a:a + chunk]
            s = score(model, xb + sigma * eb, sigma)
            total += float((0.5 * ((sigma * s + eb) ** 2).sum(1)).sum())
        out.append(total / x.shape[0])
    return out


def annealed_langevin(model, sigmas, chains=256, steps_per_level=100, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(chains, 784, generator=gen)
    s_min = sigmas[-1]
    eps = 0.2 * s_min ** 2
    for sigma in sigmas:
        alpha = eps * sigma ** 2 / s_min ** 2
        for _ in range(steps_per_level):
            z = torch.randn(x.shape, generator=gen)
            x = (x + alpha * score(model, x, sigma) + math.sqrt(2 * alpha) * z).detach()
    x = (x + s_min ** 2 * score(model, x, s_min)).detach()  # Tweedie
    return x.numpy()


def mmd2_unbiased(a, b):
    """Unbiased MMD^2 with k(x, y) = exp(-|x - y|^2 / (2 h^2)), h the median pairwise distance of
    the pooled set (off-diagonal). a, b: float64 arrays [n, D], [m, D]. Returns (mmd2, h)."""
    z = np.concatenate([a, b])
    sq = (z * z).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * z @ z.T, 0)
    n, m = len(a), len(b)
    off = ~np.eye(n + m, dtype=bool)
    h2 = np.median(d2[off])  # median of squared distances = (median distance)^2
    k = np.exp(-d2 / (2 * h2))
    kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
    mmd = ((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
           - 2 * kxy.mean())
    return float(mmd), float(math.sqrt(h2))


def nearest_train(samples, train, train_sq, chunk=20000):
    """Exact L2 distance of each sample to its nearest training image (argmin in float32 blocks,
    the distance recomputed in float64)."""
    s = torch.from_numpy(samples.astype(np.float32))
    best_d2 = torch.full((len(s),), float("inf"))
    best_i = torch.zeros(len(s), dtype=torch.long)
    ssq = (s * s).sum(1)
    for a in range(0, len(train), chunk):
        t = train[a:a + chunk]
        d2 = ssq[:, None] + train_sq[None, a:a + chunk] - 2 * s @ t.T
        v, i = d2.min(1)
        better = v < best_d2
        best_d2[better], best_i[better] = v[better], i[better] + a
    exact = np.sqrt(((samples.astype(np.float64) - train[best_i].numpy().astype(np.float64)) ** 2).sum(1))
    return exact, best_i.numpy()


def summary_nn(d):
    return {"mean": float(d.mean()), "median": float(np.median(d)), "min": float(d.min())}


def plot_grid(samples, path, title):
    tmp = os.path.join(RUNS, os.path.splitext(os.path.basename(path))[0] + "_grid64.npy")
    np.save(tmp, np.clip(samples[:64], 0, 1).astype(np.float32))
    subprocess.run([EBM, "plot", "images", "--samples", tmp, "--shape", "28x28", "--count", "64",
                    "--title", title, "-o", path], check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ebm-model", default=os.path.join(RUNS, "fm_ncsn.safetensors"))
    ap.add_argument("--torch-model", default=os.path.join(RUNS, "torch_ncsn.pt"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--resample", action="store_true", help="redo the samples even if the .npy files exist")
    ap.add_argument("-o", "--output", default=os.path.join(RUNS, "fmnist_compare.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sigmas = ladder()

    ebm_model = ebm_torch.load(args.ebm_model).float()
    with open(os.path.join(ROOT, "examples", "models", "ncsn_28x28.json")) as f:
        torch_model = ebm_torch.build_module(json.load(f), dtype=torch.float32)
    torch_model.load_state_dict(torch.load(args.torch_model))
    torch_model.eval()
    models = {"ebm": ebm_model, "torch": torch_model}
    result = {"sigmas": sigmas, "threads": args.threads,
              "ebm_model_info": {"energy_scale": ebm_model.energy_scale, "noise_levels": ebm_model.noise_levels,
                                 "objective": ebm_model.objective, "step": ebm_model.step,
                                 "standardized": ebm_model.mean is not None}}

    test = read_images("t10k-images-idx3-ubyte.gz")
    train = torch.from_numpy(read_images("train-images-idx3-ubyte.gz"))
    train_sq = (train * train).sum(1)

    # (a) held-out denoising loss
    x_eval = torch.from_numpy(test[:2000].copy())
    result["heldout_loss"] = {}
    for name, model in models.items():
        t = time.perf_counter()
        per_level = heldout_loss(model, x_eval, sigmas)
        result["heldout_loss"][name] = {"per_level": per_level, "mean_over_levels": float(np.mean(per_level)),
                                        "seconds": round(time.perf_counter() - t, 1)}

    # (b) samples
    sample_sets, timings = {}, {}
    for name, model in models.items():
        path = os.path.join(RUNS, f"{name}_torch_langevin_samples.npy")
        if args.resample or not os.path.exists(path):
            t = time.perf_counter()
            np.save(path, annealed_langevin(model, sigmas))
            timings[f"{name}_model_torch_langevin_s"] = round(time.perf_counter() - t, 1)
        sample_sets[f"{name}_model/torch_langevin"] = np.load(path)
    cli_path = os.path.join(RUNS, "ebm_samples.npy")
    if args.resample or not os.path.exists(cli_path):
        cmd = [EBM, "--threads", str(args.threads), "sample", "--model", args.ebm_model, "--sampler", "ncsn",
               "--chains", "256", "--steps", "1000", "--denoise", "-o", cli_path,
               "--report", os.path.join(RUNS, "ebm_samples_report.json")]
        t = time.perf_counter()
        subprocess.run(cmd, check=True, env={**os.environ, "OMP_WAIT_POLICY": "passive"})
        timings["ebm_model_ebm_cli_s"] = round(time.perf_counter() - t, 1)
    cli = np.load(cli_path)
    # `ebm sample -o FILE.npy` writes the draws alone (chains x draws rows of 784 pixels).
    assert cli.shape[1] == 784, f"{cli_path}: expected 784 columns, got {cli.shape[1]}"
    sample_sets["ebm_model/ebm_cli"] = cli.astype(np.float32)
    result["sampling_seconds"] = timings
    result["samples"] = {}

    # (c), (d)
    reference = test[2000:2256].astype(np.float64)
    floor_set = test[2256:2512].astype(np.float64)
    floor_mmd, floor_h = mmd2_unbiased(floor_set, reference)
    d_test, _ = nearest_train(test[2256:2512], train, train_sq)
    result["floor"] = {"mmd2": floor_mmd, "bandwidth": floor_h, "nn_train_l2": summary_nn(d_test)}
    for name, s in sample_sets.items():
        s = s.astype(np.float64)
        finite = np.isfinite(s).all(1)
        sc = np.clip(s[finite], 0, 1)
        mmd_c, h_c = mmd2_unbiased(sc, reference)
        mmd_r, _ = mmd2_unbiased(s[finite], reference)
        d, idx = nearest_train(sc, train, train_sq)
        result["samples"][name] = {
            "count": int(len(s)), "finite": int(finite.sum()),
            "pixel_range": [float(s[finite].min()), float(s[finite].max())],
            "pixel_mean": float(s[finite].mean()), "test_pixel_mean": float(reference.mean()),
            "mmd2_clipped": mmd_c, "bandwidth": h_c, "mmd2_raw": mmd_r,
            "nn_train_l2_clipped": summary_nn(d), "nn_closest_train_index": int(idx[np.argmin(d)])}

    # (e) grids
    fig = os.path.join(ROOT, "docs", "figures")
    os.makedirs(fig, exist_ok=True)
    plot_grid(sample_sets["ebm_model/ebm_cli"], os.path.join(fig, "fmnist_ncsn_ebm.png"),
              "ebm-trained NCSN, ebm sample --sampler ncsn (256 chains, 1000 steps, Tweedie)")
    plot_grid(sample_sets["torch_model/torch_langevin"], os.path.join(fig, "fmnist_ncsn_torch.png"),
              "PyTorch-trained NCSN, annealed Langevin (1000 steps, Tweedie)")
    plot_grid(sample_sets["ebm_model/torch_langevin"], os.path.join(RUNS, "fmnist_ncsn_ebm_torchsampler.png"),
              "ebm-trained NCSN, torch annealed Langevin")
    plot_grid(test[2000:2064], os.path.join(RUNS, "fmnist_test_grid.png"), "Fashion-MNIST test images")

    with open(args.output, "w") as f:
        json.dump(result, f, indent=1)

    # summary
    print("held-out DSM loss per level (first 2000 t10k images, fixed noise)")
    print(f"{'sigma':>8} {'ebm':>10} {'torch':>10}")
    for i, s in enumerate(sigmas):
        print(f"{s:8.4f} {result['heldout_loss']['ebm']['per_level'][i]:10.3f} {result['heldout_loss']['torch']['per_level'][i]:10.3f}")
    print(f"{'mean':>8} {result['heldout_loss']['ebm']['mean_over_levels']:10.3f} {result['heldout_loss']['torch']['mean_over_levels']:10.3f}")
    print(f"\n{'set':28} {'MMD2 clip':>10} {'MMD2 raw':>10} {'NN mean':>8} {'NN min':>8} {'range':>16}")
    for name, r in result["samples"].items():
        print(f"{name:28} {r['mmd2_clipped']:10.4f} {r['mmd2_raw']:10.4f} {r['nn_train_l2_clipped']['mean']:8.3f} "
              f"{r['nn_train_l2_clipped']['min']:8.3f}  [{r['pixel_range'][0]:.2f}, {r['pixel_range'][1]:.2f}]")
    fl = result["floor"]
    print(f"{'test vs test (floor)':28} {fl['mmd2']:10.4f} {'':>10} {fl['nn_train_l2']['mean']:8.3f} {fl['nn_train_l2']['min']:8.3f}")
    print("sampling seconds:", timings)


if __name__ == "__main__":
    main()
