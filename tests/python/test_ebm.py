"""The Python module against independent answers: the `ebm` command (same seed, same bits),
closed forms, PyTorch (to_torch, energies and autograd scores) and the library's own messages.

Run by CTest with PYTHONPATH at the build tree's python/ folder and EBM_CLI at the command."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import ebm

CLI = os.environ.get("EBM_CLI", "ebm")
SMALL_MLP = "mlp:16x16:softplus"
CONDITIONAL = {
    "input": 2,
    "condition": {"fourier_features": 4, "width": 8},
    "layers": [{"type": "linear", "out": 16}, {"type": "film"}, {"type": "silu"},
               {"type": "linear", "out": 1}],
}


def cli(*args, cwd):
    r = subprocess.run([CLI, "--quiet", *map(str, args)], cwd=cwd, capture_output=True, text=True)
    return r


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("py")
    data = ebm.datasets.make("moons", 600, seed=3).astype(np.float32)
    np.save(d / "moons.npy", data)
    return d


@pytest.fixture(scope="module")
def cli_model(work):
    r = cli("train", "--data", "moons.npy", "--model", SMALL_MLP, "--steps", 40, "--batch", 64, "--seed", 5,
            "-o", "cli.safetensors", cwd=work)
    assert r.returncode == 0, r.stderr
    return work / "cli.safetensors"


# ----- the same seed gives the same bits as the command -----

def test_train_gives_the_cli_model_bit_for_bit(work, cli_model):
    data = np.load(work / "moons.npy")
    model, log = ebm.train(data, model=SMALL_MLP, steps=40, batch=64, seed=5)
    assert len(log) == 40 and log[-1]["step"] == 40
    model.save(work / "py.safetensors")
    assert (work / "py.safetensors").read_bytes() == cli_model.read_bytes()


def test_sample_gives_the_cli_draws_bit_for_bit(work, cli_model):
    for sampler in ("mala", "nuts"):
        for ext in ("npy", "csv"):  # .npy: the draws alone; .csv: chain, step, x0, x1
            r = cli("sample", "--model", cli_model.name, "--sampler", sampler, "--chains", 6, "--steps", 60, "--seed", 9,
                    "-o", f"s_{sampler}.{ext}", cwd=work)
            assert r.returncode == 0, r.stderr
        draws = np.load(work / f"s_{sampler}.npy")
        rows = np.loadtxt(work / f"s_{sampler}.csv", delimiter=",", skiprows=1)
        s = ebm.sample(ebm.load(cli_model), sampler=sampler, chains=6, steps=60, seed=9)
        c, n, d = s.draws.shape
        assert s.draws.dtype == np.float32 and (c, n, d) == (6, 30, 2)
        np.testing.assert_array_equal(draws, s.draws.reshape(c * n, d))
        np.testing.assert_array_equal(rows[:, 2:].astype(np.float32), s.draws.reshape(c * n, d))
        np.testing.assert_array_equal(rows[:, 0], np.repeat(s.chains, n))
        np.testing.assert_array_equal(rows[:, 1], np.tile(s.steps, c))
        # Samples.save writes the command's layout: the same columns and values, read back alike.
        for ext in ("npy", "csv"):
            s.save(work / f"py_{sampler}.{ext}")
        saved, columns = ebm.datasets.read_table(work / f"py_{sampler}.csv")
        assert columns == ["chain", "step", "x0", "x1"]
        np.testing.assert_array_equal(saved[:, 2:].astype(np.float32), s.draws.reshape(c * n, d))
        np.testing.assert_array_equal(saved[:, :2], rows[:, :2])
        np.testing.assert_array_equal(np.load(work / f"py_{sampler}.npy").astype(np.float32), draws)
        r = cli("diag", f"py_{sampler}.csv", cwd=work)
        assert r.returncode == 0, r.stderr


def test_energies_equal_the_cli(work, cli_model):
    x = np.load(work / "moons.npy")[:50]
    r = cli("energy", "--model", cli_model.name, "--at", "moons.npy", "-o", "e.npy", cwd=work)
    assert r.returncode == 0, r.stderr
    expected = np.load(work / "e.npy")[:50, 0]
    # `ebm energy` evaluates in double precision.
    np.testing.assert_array_equal(ebm.load(cli_model, dtype="float64").energy(x), expected)


def test_diagnostics_equal_ebm_diag(work, cli_model):
    r = cli("sample", "--model", cli_model.name, "--chains", 4, "--steps", 200, "--seed", 2, "-o", "d.csv", cwd=work)
    assert r.returncode == 0, r.stderr
    diag = subprocess.run([CLI, "diag", "d.csv", "--json"], cwd=work, capture_output=True, text=True)
    assert diag.returncode == 0, diag.stderr
    expected = json.loads(diag.stdout)
    rows, columns = ebm.datasets.read_table(work / "d.csv")
    assert columns[:2] == ["chain", "step"]
    got = ebm.diagnostics(rows[:, 2:].reshape(4, -1, 2))
    for a, b in zip(got["dimensions"], expected["dimensions"]):
        for key in ("mean", "sd", "ess_bulk", "ess_tail", "rhat", "mcse_mean"):
            assert a[key] == pytest.approx(b[key], rel=1e-12, abs=1e-12), key


# ----- closed forms and statistics -----

GAUSS = {"type": "gaussian", "mean": [1.0, -2.0], "cov": [[1.0, 0.0], [0.0, 4.0]]}


def gauss_logp(x):
    z = (x - np.array([1.0, -2.0])) / np.array([1.0, 2.0])
    return -0.5 * (z ** 2).sum(1) - np.log(2 * np.pi * 2.0)


def test_json_energy_scores_and_normalised_logp():
    g = ebm.Energy.from_json(GAUSS)
    assert g.dim == 2 and g.dtype == "float64" and not g.is_model
    x = np.random.default_rng(0).normal(size=(20, 2))
    e, s = g.energy_and_score(x)
    np.testing.assert_allclose(s, -(x - [1.0, -2.0]) / [1.0, 4.0], rtol=1e-12)
    np.testing.assert_allclose(e - e[0], -(gauss_logp(x) - gauss_logp(x)[0]), rtol=1e-10, atol=1e-10)
    r = ebm.logp(g, x, normalize="grid", box=[(-12.0, 14.0)])
    np.testing.assert_allclose(r["log_p"], gauss_logp(x), atol=1e-6)
    assert r["log_z"]["method"] == "grid"
    z = ebm.log_z(g, x, method="grid", box=[(-12.0, 14.0)])
    # E = 1/2 z^2 with no constant: log Z = log(2 pi sigma_1 sigma_2).
    assert z["log_z"] == pytest.approx(np.log(2 * np.pi * 2.0), abs=1e-6)


def test_json_from_text_and_file(tmp_path):
    p = tmp_path / "g.json"
    p.write_text(json.dumps(GAUSS))
    x = np.zeros((1, 2))
    assert ebm.Energy.from_json(str(p)).energy(x) == pytest.approx(ebm.Energy.from_json(json.dumps(GAUSS)).energy(x))
    with pytest.raises(ebm.IoError, match="nope.json"):
        ebm.Energy.from_json(str(tmp_path / "nope.json"))


def test_python_callable_energy_is_sampled_by_nuts_to_the_right_moments():
    calls = []

    def standard_normal(x):
        calls.append(len(x))
        return 0.5 * (x ** 2).sum(1), -x

    e = ebm.Energy.from_callable(standard_normal, 3)
    s = ebm.sample(e, sampler="nuts", chains=4, steps=1000, seed=1)
    assert s.draws.shape == (4, 500, 3)
    for dim in s.diagnostics["dimensions"]:
        # Within 5 Monte Carlo standard errors of the truth (0 and 1).
        assert abs(dim["mean"]) < 5 * dim["mcse_mean"], dim
        assert abs(dim["sd"] - 1) < 0.1, dim
    assert len(calls) > 0 and max(calls) <= 4


def test_callable_with_separate_score_and_its_errors():
    e = ebm.Energy.from_callable(lambda x: 0.5 * (x ** 2).sum(1), 2, score=lambda x: -x)
    np.testing.assert_allclose(e.score(np.ones((3, 2))), -np.ones((3, 2)))
    bad = ebm.Energy.from_callable(lambda x: np.zeros(len(x) + 1), 2, score=lambda x: -x)
    with pytest.raises(ValueError, match="must return 3 energies"):
        bad.energy(np.ones((3, 2)))
    def boom(x):
        raise ZeroDivisionError("inside the energy")
    with pytest.raises(ZeroDivisionError, match="inside the energy"):
        ebm.sample(ebm.Energy.from_callable(boom, 2), chains=2, steps=10)
    with pytest.raises(TypeError, match="callable"):
        ebm.Energy.from_callable(3, 2)


def test_metrics():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(400, 2)), rng.normal(size=(400, 2))
    same, shifted = ebm.mmd(x, y), ebm.mmd(x, y + 2)
    assert abs(same["mmd2"]) < 0.01 < shifted["mmd2"]
    kt = ebm.kl_tv(x, y, box=[(-4.0, 4.0)], bins=10)
    assert 0 <= kt["tv"] < 0.2
    g = ebm.Energy.from_json(GAUSS)
    assert ebm.fisher_divergence(g, g, x)["value"] == 0
    h = ebm.Energy.from_json({**GAUSS, "mean": [0.0, -2.0]})
    # s_g - s_h = -(x - m_g) + (x - m_h) in coordinate 0: 1 everywhere, so 1/2.
    assert ebm.fisher_divergence(g, h, x)["value"] == pytest.approx(0.5)


def test_datasets_and_files_round_trip(tmp_path):
    assert "moons" in ebm.datasets.names()
    a = ebm.datasets.make("moons", 100, seed=1)
    np.testing.assert_array_equal(a, ebm.datasets.make("moons", 100, seed=1))
    for ext in ("csv", "npy", "txt"):
        p = tmp_path / f"a.{ext}"
        ebm.datasets.write(p, a, ["u", "v"])
        values, columns = ebm.datasets.read_table(p)
        np.testing.assert_array_equal(values, a)
        assert columns == (["x0", "x1"] if ext == "npy" else ["u", "v"])  # .npy keeps no names
    with pytest.raises(ebm.NumericalError, match="not written"):
        ebm.datasets.write(tmp_path / "nan.csv", np.array([[1.0, np.nan]]))
    assert not (tmp_path / "nan.csv").exists()


# ----- arrays: dtypes and layouts -----

def test_dtypes_and_layouts_are_converted_or_refused(cli_model):
    m = ebm.load(cli_model)
    x = np.array([[0.5, -0.25], [1.0, 0.0]], dtype=np.float32)
    ref = m.energy(x)
    np.testing.assert_array_equal(m.energy(x.astype(np.float64)), ref)  # exactly representable values
    np.testing.assert_array_equal(m.energy(x.astype(np.float16)), ref)
    np.testing.assert_array_equal(m.energy(np.asfortranarray(x)), ref)
    np.testing.assert_array_equal(m.energy(np.ascontiguousarray(x[:, ::-1])[:, ::-1]), ref)  # a strided view
    np.testing.assert_array_equal(m.energy([[0.5, -0.25], [1.0, 0.0]]), ref)  # a list
    assert m.energy(np.array([1, 0], dtype=np.int64)).shape == (1,)  # one point as a 1-D array
    assert m.energy(np.ones((2, 2), dtype=bool)).shape == (2,)
    with pytest.raises(TypeError, match="dtype complex128"):
        m.energy(np.ones((2, 2), dtype=complex))
    with pytest.raises(ValueError, match="has 3 columns but the energy has D = 2"):
        m.energy(np.ones((2, 3)))
    with pytest.raises(ValueError, match="2-D array"):
        m.energy(np.ones((2, 2, 2)))
    assert m.astype("float64").energy(x).dtype == np.float64


# ----- errors: the library's messages, as Python exceptions -----

def test_errors_carry_the_library_messages(work, cli_model, tmp_path):
    m = ebm.load(cli_model)
    cases = [
        (lambda: ebm.sample(m, chains=0), ebm.InvalidArgument, "chains: must be >= 1, got 0"),
        (lambda: ebm.sample(m, sampler="gibbs"), ValueError, "sampler: expected"),
        (lambda: ebm.sample(m, step_size=-1.0), ValueError, "step_size: must be > 0, got -1"),
        (lambda: ebm.sample(m, sampler="ncsn"), ValueError, "ncsn needs a noise-conditional model"),
        (lambda: ebm.train(np.zeros((10, 2)), lr=-1.0), ValueError, "lr: must be > 0, got -1"),
        (lambda: ebm.train(np.zeros((10, 2)), objective="mle"), ValueError, "objective: expected sm, ssm, dsm, cd or pcd"),
        (lambda: ebm.train(np.zeros((10, 2)), model="mlp:0"), ValueError, "bad width '0'"),
        (lambda: ebm.load(tmp_path / "missing.safetensors"), OSError, "missing.safetensors"),
        (lambda: ebm.logp(m, np.zeros((2, 2)), normalize="simpson"), ValueError, "normalize: expected grid or ais"),
        (lambda: ebm.set_threads(0), ValueError, "threads: must be >= 1"),
        (lambda: ebm.sample(m, chains=10**6, steps=10**7), ValueError, "more than half this machine's memory"),
        (lambda: ebm.datasets.make("spirals", 10), ValueError, "spirals"),
        (lambda: ebm.sample(m, chain=3), TypeError, "sample(): unknown keyword 'chain'; did you mean chains?"),
        (lambda: ebm.train(np.zeros((10, 2)), stpes=3), TypeError, "unknown keyword 'stpes'; did you mean steps?"),
    ]
    for call, kind, text in cases:
        with pytest.raises(kind) as info:
            call()
        assert text in str(info.value)
        assert "\n" not in str(info.value)
    garbled = tmp_path / "garbled.safetensors"
    garbled.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(ebm.FormatError, match="garbled.safetensors"):
        ebm.load(garbled)
    # The command line says the same, with the flag's spelling.
    r = cli("sample", "--model", cli_model.name, "--chains", 0, "-o", "x.csv", cwd=work)
    assert r.returncode == 2 and "--chains: must be >= 1, got 0" in r.stderr


def test_keyword_defaults_are_the_options_structs():
    s = ebm.sample.__doc__
    assert "chains (64)" in s and "steps (1000)" in s
    # The compiled signature carries the C++ defaults themselves.
    doc = ebm._ebm.sample.__doc__
    for text in ("chains: int = 64", "steps: int = 1000", "sampler: str = 'mala'", "max_depth: int = 10"):
        assert text in doc, text
    doc = ebm._ebm.train.__doc__
    for text in ("batch: int = 256", "lr: float = 0.001", "objective: str = 'sm'"):
        assert text in doc, text
    # Unset: the objective's own default (cd and pcd train longer, with an energy penalty).
    for text in ("steps: Optional[int] = None", "energy_penalty: Optional[float] = None", "schedule: Optional[str] = None"):
        assert text in doc, text
    assert "steps (1000; cd, pcd: 5000)" in ebm.train.__doc__


# ----- PyTorch -----

def torch_check(model, x):
    torch = pytest.importorskip("torch")
    module = ebm.to_torch(model)
    xt = torch.tensor(x, dtype=torch.float64 if model.dtype == "float64" else torch.float32, requires_grad=True)
    energy = module(xt)
    score = -torch.autograd.grad(energy.sum(), xt)[0]
    e, s = model.energy_and_score(x)
    np.testing.assert_allclose(energy.detach().numpy(), e, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(score.numpy(), s, rtol=1e-5, atol=1e-6)


def test_to_torch_equals_ebm_for_every_model_kind(work):
    data = np.load(work / "moons.npy")
    x = data[:64]
    plain, _ = ebm.train(data, model=SMALL_MLP, steps=20, seed=1)
    torch_check(plain, x)
    raw, _ = ebm.train(data, model=SMALL_MLP, steps=20, seed=1, standardize=False)
    torch_check(raw, x)
    ladder, _ = ebm.train(data, model=SMALL_MLP, objective="dsm", noise_levels=4, sigma=0.1, steps=20, seed=1)
    assert ladder.energy_scale == pytest.approx(10.0)
    torch_check(ladder, x)
    cond, _ = ebm.train(data, architecture=CONDITIONAL, objective="dsm", noise_levels=3, sigma=0.1, steps=20, seed=1)
    assert cond.conditional and len(cond.noise_levels) == 3
    torch_check(cond, x)
    torch_check(cond.astype("float64"), x.astype(np.float64))
    with pytest.raises(TypeError, match="expected a model"):
        ebm.to_torch(ebm.Energy.from_json(GAUSS))


# ----- checkpoints, resume, interruption, the GIL -----

def test_checkpoint_resume_is_bit_identical(work, tmp_path):
    data = np.load(work / "moons.npy")
    whole, _ = ebm.train(data, model=SMALL_MLP, steps=30, seed=4)
    ck = tmp_path / "ck.safetensors"
    first, _ = ebm.train(data, model=SMALL_MLP, steps=30, stop_at=12, seed=4, checkpoint=ck)
    assert first.step == 12
    rest, log = ebm.train(data, resume=ck)  # the checkpoint's options: model, steps, seed
    assert log[0]["step"] == 13 and rest.step == 30
    whole.save(tmp_path / "a.safetensors")
    rest.save(tmp_path / "b.safetensors")
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
    cond_ck = tmp_path / "cond.safetensors"
    ebm.train(data, architecture=CONDITIONAL, objective="dsm", noise_levels=3, steps=6, stop_at=3, seed=1, checkpoint=cond_ck)
    cond, log = ebm.train(data, resume=cond_ck)
    assert cond.conditional and log[-1]["step"] == 6
    loaded = ebm.load(ck)  # a checkpoint is accepted wherever a model is
    assert loaded.step == 12
    with pytest.raises(ValueError, match="leaves nothing to do"):
        ebm.train(data, model=SMALL_MLP, steps=10, seed=4, resume=ck)


def run_and_interrupt(script, cwd, after):
    env = dict(os.environ)
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], cwd=cwd, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not (cwd / "started").exists():
        time.sleep(0.02)
    time.sleep(after)
    sent = time.time()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    return p.returncode, time.time() - sent, out, err


def test_ctrl_c_stops_training_with_a_checkpoint(work, tmp_path):
    script = f"""
        import numpy as np, ebm, pathlib
        data = np.load({str(work / 'moons.npy')!r})
        def started(entry):
            if entry["step"] == 2: pathlib.Path("started").touch()
        try:
            ebm.train(data, model="mlp:64x64:softplus", steps=10**7, seed=4, checkpoint="ck.safetensors", callback=started)
        except KeyboardInterrupt as e:
            print("KI", e)
        """
    code, seconds, out, err = run_and_interrupt(script, tmp_path, 0.3)
    assert code == 0, err
    assert seconds < 1.0, seconds
    assert out.startswith("KI interrupted at step "), out
    assert "resume='ck.safetensors'" in out
    step = int(out.split("at step ")[1].split(",")[0])
    assert ebm.load(tmp_path / "ck.safetensors").step == step


def test_ctrl_c_stops_sampling_within_a_second(work, tmp_path, cli_model):
    script = f"""
        import ebm, pathlib
        m = ebm.load({str(cli_model)!r})
        pathlib.Path("started").touch()
        try:
            ebm.sample(m, sampler="mala", chains=256, steps=10**8, thin=10**6, seed=1)
        except KeyboardInterrupt:
            print("KI")
        """
    code, seconds, out, err = run_and_interrupt(script, tmp_path, 0.5)
    assert code == 0 and out.strip() == "KI", (out, err)
    assert seconds < 1.0, seconds


def test_an_energy_is_safe_to_share_between_threads(cli_model):
    m = ebm.load(cli_model)
    x = np.random.default_rng(0).normal(size=(2000, 2)).astype(np.float32)
    expected = m.score(x)
    results, errors = [], []

    def work():
        try:
            for _ in range(20):
                results.append(np.array_equal(m.score(x), expected))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 80 and all(results)


def test_diagnostics_can_be_skipped(cli_model):
    s = ebm.sample(ebm.load(cli_model), chains=4, steps=100, seed=1, diagnostics=False)
    assert s.diagnostics is None and s.draws.shape == (4, 50, 2)


def test_to_torch_second_derivatives_are_finite_far_in_the_tails(cli_model):
    torch = pytest.importorskip("torch")
    module = ebm.to_torch(ebm.load(cli_model, dtype="float64"))
    x = torch.tensor([[300.0, -300.0], [-1e3, 1e3]], dtype=torch.float64, requires_grad=True)
    g = torch.autograd.grad(module(x).sum(), x, create_graph=True)[0]
    lap = sum(torch.autograd.grad(g[:, j].sum(), x, retain_graph=True)[0][:, j] for j in range(2))
    assert torch.isfinite(lap).all()


def test_long_work_releases_the_gil(cli_model):
    m = ebm.load(cli_model)
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(1)
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    start = len(ticks)
    ebm.sample(m, sampler="ula", chains=512, steps=400, seed=1, step_size=0.01)
    done.set()
    t.join()
    assert len(ticks) - start > 20  # the other thread ran while ebm sampled
