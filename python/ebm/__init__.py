"""ebm: energy-based models in C++, from Python with NumPy arrays.

Points are rows: an array [N, D] of N points in D dimensions (float32 or float64 arrays are
used as they are; other real dtypes are converted). Every keyword has the default and the
checks of the C++ options structs (include/ebm/facade/); errors carry the library's one-line
messages as ebm.Error subclasses that are also ValueError, OSError or ArithmeticError.

    import ebm
    data = ebm.datasets.make("moons", 5000, seed=0)
    model, log = ebm.train(data, objective="sm", steps=2000, seed=0)
    s = ebm.sample(model, sampler="mala", chains=64, steps=1000, seed=1)
    s.draws.shape              # (64, 500, 2): chains x kept draws x D
    print(s.summary)           # R-hat, ESS, MCSE per dimension

docs/python.md walks through it.
"""
import json as _json
import os as _os
import tempfile as _tempfile
import types as _types

from . import _ebm
from ._ebm import (  # noqa: F401
    Energy,
    Error,
    FormatError,
    InvalidArgument,
    IoError,
    NumericalError,
    diagnostics,
    fisher_divergence,
    kl_tv,
    load,
    log_z,
    mmd,
    sampler_names,
    set_threads,
    threads,
)

__version__ = "0.1.0"
__all__ = ["Energy", "Error", "FormatError", "InvalidArgument", "IoError", "NumericalError", "Samples",
           "datasets", "diagnostics", "fisher_divergence", "kl_tv", "load", "log_z", "logp", "mmd",
           "sample", "sampler_names", "set_threads", "threads", "to_torch", "train"]


def _from_json(description, dtype="float64"):
    """An analytic energy from its JSON description (docs/cli.md): a dict, JSON text, or a path
    to a .json file. float64 by default (analytic energies are cheap)."""
    if isinstance(description, dict):
        return _ebm._from_json(_json.dumps(description), "(dict)", dtype)
    text = str(description)
    if not text.lstrip().startswith("{"):
        path = _os.fspath(description)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise IoError(f"{path}: cannot read ({e.strerror})") from None
        return _ebm._from_json(text, path, dtype)
    return _ebm._from_json(text, "(json)", dtype)


def _from_callable(energy, dim, score=None, dtype="float64"):
    """An energy written in Python, usable by every sampler and estimator.

    energy(x) gets x [N, dim] and returns the N energies; with score=None it must return the
    pair (energies [N], scores [N, dim]), where the score is -grad_x E. Otherwise score(x)
    returns the scores. Called with the GIL held, from one thread."""
    return _ebm._from_callable(energy, int(dim), score, dtype)


def _keywords(function):
    """The keyword names of a compiled function, from its signature line."""
    import re
    head = function.__doc__.split("\n", 1)[0]
    return re.findall(r"(\w+): ", head.split("*", 1)[1]) if "*" in head else []


def _check_keywords(name, function, options):
    """TypeError naming an unknown keyword and the nearest known one (pybind11's own message
    lists the whole signature instead)."""
    import difflib
    known = _keywords(function)
    for key in options:
        if key not in known:
            near = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {near[0]}?" if near else f" (known: {', '.join(known)})"
            raise TypeError(f"{name}(): unknown keyword '{key}'{hint}")


Energy.from_json = staticmethod(_from_json)
Energy.from_callable = staticmethod(_from_callable)


class Samples(_types.SimpleNamespace):
    """What ebm.sample returns.

    draws [chains_kept, S, D]; chains: the kept chains' indices; steps [S]: the update that
    produced each draw; final_state [chains, D]; step_size [chains] (adapted); acceptance
    (None for unadjusted samplers); failures [(chain, step)]; diagnostics: a dict (R-hat, ESS,
    MCSE per dimension, as `ebm diag --json`), None with fewer than 4 draws per chain; summary:
    the same as a table; gradient_evaluations, seconds, notes, sampler."""

    def __repr__(self):
        c, s, d = self.draws.shape
        return f"<ebm.Samples {self.sampler}: {c} chains x {s} draws, D = {d}>"

    def save(self, path):
        """Writes the draws as `ebm sample -o` does, atomically: .csv, .tsv or .txt with the
        columns chain, step, x0, ... (what `ebm diag` and `ebm plot trace` read), .npy the draws
        alone, chains x draws rows, chain after chain. Values are written as float64."""
        import numpy as np
        c, s, d = self.draws.shape
        flat = np.asarray(self.draws, dtype=np.float64).reshape(c * s, d)
        if _os.fspath(path).endswith(".npy"):
            _ebm.write_table(_os.fspath(path), flat, [])
            return
        chain = np.repeat(np.asarray(self.chains, dtype=np.float64), s)
        step = np.tile(np.asarray(self.steps, dtype=np.float64), c)
        _ebm.write_table(_os.fspath(path), np.column_stack([chain, step, flat]),
                         ["chain", "step"] + [f"x{j}" for j in range(d)])


def sample(energy, **options):
    """Draws samples from an Energy. Keywords (defaults as `ebm sample`): sampler ("mala";
    ebm.sampler_names()), chains (64), steps (1000), seed (0), burn_in (steps / 2), thin (1),
    init_scale (1), step_size (the sampler's), levels, max_temperature (10), metric ("diag"),
    target_accept, max_depth (10), path_length (1), friction (1), replicas (8),
    adapt_ladder (False), within ("mala"), denoise (False), diagnostics (True: R-hat, ESS and
    MCSE of the kept draws, which can take longer than the sampling). Returns Samples."""
    _check_keywords("sample", _ebm.sample, options)
    return Samples(**_ebm.sample(energy, **options))


def train(data, **options):
    """Fits an energy network to data [N, D]. Keywords (defaults as `ebm train`): objective
    ("sm"; ssm, dsm, cd, pcd), model ("mlp:128x128:softplus" or an architecture file),
    architecture (the architecture as JSON text or a dict), steps (1000; cd, pcd: 5000), batch (256),
    lr (1e-3), seed (0), held_out (0), checkpoint (None), checkpoint_every (0), resume (None),
    callback (called with each step's log entry), schedule ("cosine"; pcd: "constant"), optimizer, weight_decay, clip, ema,
    standardize (True), eval_every, patience, sigma, sigma_max, noise_levels, projections,
    langevin_steps, langevin_step_size (cd 0.05, pcd 0.01), buffer_size, energy_penalty (cd, pcd: 0.1),
    restart_fraction,
    on_divergence ("stop" or "rollback"), divergence_threshold (1000), flip, stop_at,
    dtype ("float32"). A diverging run raises ebm.NumericalError naming the step.

    Returns (model, log): the trained model as an Energy on raw data, and a list of dicts, one
    per step (step, loss, lr, grad_norm, held_out when evaluated, seconds). Ctrl-C stops the
    run within a step; with a checkpoint file it is saved first, and KeyboardInterrupt says
    how to resume. With resume=, the keywords not given are the checkpoint's own."""
    _check_keywords("train", _ebm.train, options)
    if options.get("resume") is not None:
        _fill_from_checkpoint(options)
    arch = options.get("architecture")
    if isinstance(arch, dict):
        options["architecture"] = _json.dumps(arch)
    for key in ("checkpoint", "resume", "model"):
        if options.get(key) is not None and not isinstance(options[key], str):
            options[key] = _os.fspath(options[key])
    return _ebm.train(data, **options)


def _fill_from_checkpoint(options):
    """A resumed run's options are the checkpoint's, as with `ebm train --resume`: the keywords
    not given take the values it was trained with."""
    saved = _ebm.saved_run_config(_os.fspath(options["resume"]))
    if not saved:
        return
    for key, value in _json.loads(saved).items():
        key = key.replace("-", "_")
        if key == "float64":
            key, value = "dtype", "float64" if value else "float32"
        if key == "data" or key in options:
            continue
        options[key] = value


def logp(energy, points, **options):
    """log p at points [N, D] by line integrals of the score from ref (default the origin):
    relative to ref, or absolute with normalize="grid" (D <= 3) or "ais". Keywords: ref,
    normalize, nodes (32), box ([(lo, hi)] once or per axis), grid_points, ais_chains (256),
    ais_temperatures (200), seed. Returns a dict: log_p [N], quadrature_error [N],
    path_difference [N], log_z (a dict, or None), evaluations, seconds."""
    _check_keywords("logp", _ebm.logp, options)
    return _ebm.logp(energy, points, **options)


def to_torch(model):
    """The model as a torch.nn.Module on raw data: forward(x [N, D]) gives the same energies as
    model.energy(x), the standardisation and energy scale folded in; a noise-conditional model
    at its smallest noise level (forward(x, sigma) for another). Scores by torch.autograd."""
    if not isinstance(model, Energy) or not model.is_model:
        raise TypeError("to_torch: expected a model (ebm.load or ebm.train), not an analytic or Python energy")
    import torch  # noqa: F401  (a clear ImportError when torch is missing)
    from . import _torch_bridge
    fd, path = _tempfile.mkstemp(suffix=".safetensors")
    _os.close(fd)
    try:
        model.save(path)
        module = _torch_bridge.load(path)
    finally:
        _os.unlink(path)
    if module.conditional:
        sigma_min = float(model.noise_levels[-1])
        inner_forward = module.forward

        def forward(x, sigma=None):
            return inner_forward(x, sigma_min if sigma is None else sigma)
        module.forward = forward
    return module


class _Datasets:
    """Toy data sets and matrix files (.csv, .tsv, .txt, .npy, .idx, optionally .gz)."""

    @staticmethod
    def names():
        return _ebm.dataset_names()

    @staticmethod
    def make(name, n, seed=0):
        """n points [n, D] of a toy set (names()), float64."""
        return _ebm.make_dataset(name, int(n), seed=seed)

    @staticmethod
    def read(path):
        """The numbers of a matrix file as an array [N, D], float64 (a samples file's chain and
        step columns included; read_table gives the column names)."""
        return _ebm.read_table(_os.fspath(path))[0]

    @staticmethod
    def read_table(path):
        """(values [N, D], column names)."""
        return _ebm.read_table(_os.fspath(path))

    @staticmethod
    def write(path, values, columns=()):
        """Writes values [N, D] atomically (.csv, .tsv, .txt or .npy); refuses non-finite values."""
        _ebm.write_table(_os.fspath(path), values, list(columns))


datasets = _Datasets()
