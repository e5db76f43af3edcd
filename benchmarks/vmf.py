"""Speed and correctness of vMF sampling and of the KL to the uniform, ours against its peers.

Run from the project root (extra dependency: ``pip install -r benchmarks/requirements.txt``)::

    python benchmarks/vmf.py                 # CPU, the full grid (~8 min on 2 cores)
    python benchmarks/vmf.py --device cuda   # the same on a GPU
    python benchmarks/vmf.py --quick         # a small grid, seconds; written nowhere

Sampling (``task = rsample``), for every cell (dtype, m, kappa) of the grid, batch 1e5:

- ``ours``: ``hvae_lib.distributions.VonMisesFisher(loc, kappa).rsample()``;
- ``pythae``: the official code's algorithm as packaged on PyPI (``pythae==0.1.2``,
  ``SVAE._sample_von_mises``, called directly with the same loc and kappa);
- ``scipy``: ``scipy.stats.vonmises_fisher(mu, kappa).rvs(batch)`` (numpy, float64 only; its
  float32 row reuses the float64 run);
- ``power_spherical``: the ``power-spherical`` package's ``PowerSpherical(loc, kappa)`` (a
  different distribution with the same role: speed is comparable, correctness is checked against
  its own mean resultant length E[t] = (alpha - beta) / (alpha + beta), alpha = (m-1)/2 + kappa,
  beta = (m-1)/2);
- ``floor``: the random draws any correct sampler must make, timed in the same run:
  ``randn(batch, m)`` (a uniform direction), ``rand(batch)`` and, for m != 3, one
  ``Beta((m-1)/2, (m-1)/2)`` draw per sample (one rejection round).

Every sampler gets the same single mean direction (a fixed random unit vector, expanded to the
batch; scipy takes one mu per call, so a per-sample loc would not be comparable) and the same
kappa. Parameters carry no gradient.

Correctness of a sample z (n x m): ``bad_share`` is the share of rows that are NaN or off the
sphere (| ||z|| - 1 | > 1e-4 in float32, 1e-10 in float64, the norm taken in float64 of the
stored values; ``max_norm_dev`` is the largest | ||z|| - 1 |); ``mean_resultant`` = ||mean z|| (float64). Under correct sampling
E||mean z||^2 = A^2 + (1 - A^2) / n, with A = E[mu.z] (vMF: A_m(kappa) = bessel_ratio(m/2, kappa)
in float64), so ``expected`` = sqrt(A^2 + (1 - A^2) / n); the Monte Carlo tolerance is 5 standard
deviations, sd = sqrt((Var(mu.z) + (1 - E[(mu.z)^2]) / (m - 1)) / n) (the second term bounds the
tangential noise), plus 1e-6 in float32 for its rounding. ``correct`` = no bad rows and
|mean_resultant - expected| <= tolerance.

KL (``task = kl_grad``): forward and backward of sum(KL(vMF(mu, kappa) || U(S^(m-1)))) over a
batch of 1e5 kappas log-uniform in [1, 1e4], gradient on kappa; ``ours`` is
``torch.distributions.kl_divergence(VonMisesFisher, HypersphericalUniform)``, ``scipy_ive`` the
route of the official code, as in pythae (``SVAE._compute_kl``: ``scipy.special.ive`` on CPU
numpy in the input's dtype, wrapped in a custom autograd function). ``bad_share`` there is the
share of non-finite KL values or gradients; ``max_rel_dev`` the largest relative deviation from
the official formula evaluated in float64 numpy (``vmf_chapter.official_kl``) where that is finite.

Timing: the median of ``--repeats`` calls (``--slow-repeats`` for pythae and scipy), after one
warm-up call whose output serves the correctness check; the samplers of a cell are called in
turn within each repeat, so that a change of machine load hits all of them alike. A peer whose
warm-up predicts more than 30 s for the cell is run on a 1e4 subsample and its time scaled to the
batch (``n_timed`` < ``batch``; labelled in ``note``).

Output: a tidy CSV and a JSON with provenance in ``results/benchmarks/vmf/<cpu|cuda>.{csv,json}``,
and a readable table on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats
import torch

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from hvae_lib.experiments.vmf_chapter import official_kl  # noqa: E402
from hvae_lib.distributions import HypersphericalUniform, VonMisesFisher, kappa_mean_resultant_derivative  # noqa: E402
from hvae_lib.results import environment  # noqa: E402
from hvae_lib.special import bessel_ratio  # noqa: E402

BATCH = 100_000
SUBSAMPLE = 10_000
MS = (3, 11, 41, 129)
KAPPAS = (1.0, 100.0, 1e4)
DTYPES = ("float32", "float64")
CELL_BUDGET_S = 30.0
N_SD = 5.0
FLOAT32_ROUNDING = 1e-6
UNIT_TOL = {"float32": 1e-4, "float64": 1e-10}
SLOW = ("pythae", "scipy")
TARGETS = {
    "rsample_vs_pythae_cpu": 10.0,
    "rsample_vs_pythae_cuda": 50.0,
    "rsample_vs_power_spherical": 0.5,
    "kl_grad_vs_scipy_ive": 20.0,
}


# --- the samplers: each returns a zero-argument callable drawing n samples -------------------


def _pythae():
    from pythae.models.svae.svae_model import SVAE

    # The sampler and the KL are methods that use no model state: an uninitialised instance runs them.
    return SVAE.__new__(SVAE)


def sampler_ours(loc, kappa, n):
    dist = VonMisesFisher(loc.expand(n, -1), torch.full((n,), kappa, dtype=loc.dtype, device=loc.device))
    return dist.rsample


def sampler_pythae(loc, kappa, n):
    model = _pythae()
    locs = loc.expand(n, -1)
    kappas = torch.full((n, 1), kappa, dtype=loc.dtype, device=loc.device)
    return lambda: model._sample_von_mises(locs, kappas)


def sampler_scipy(loc, kappa, n):
    dist = scipy.stats.vonmises_fisher(loc.detach().cpu().double().numpy(), kappa)
    rng = np.random.default_rng(0)
    return lambda: dist.rvs(n, random_state=rng)


def sampler_power_spherical(loc, kappa, n):
    from power_spherical import PowerSpherical

    dist = PowerSpherical(loc.expand(n, -1), torch.full((n,), kappa, dtype=loc.dtype, device=loc.device))
    return dist.rsample


def sampler_floor(loc, kappa, n):
    m, dtype, device = loc.shape[-1], loc.dtype, loc.device
    half = torch.tensor((m - 1) / 2, dtype=dtype, device=device)
    beta = torch.distributions.Beta(half, half)

    def draw():
        direction = torch.randn(n, m, dtype=dtype, device=device)
        u = torch.rand(n, dtype=dtype, device=device)
        eps = beta.sample((n,)) if m != 3 else None
        return direction, u, eps

    return draw


SAMPLERS = {
    "ours": sampler_ours,
    "pythae": sampler_pythae,
    "scipy": sampler_scipy,
    "power_spherical": sampler_power_spherical,
    "floor": sampler_floor,
}


# --- reference moments of mu.z ---------------------------------------------------------------


def vmf_moments(m, kappa):
    """(E[w], Var[w]) of w = mu.z under vMF(mu, kappa) on S^(m-1), float64."""
    k = torch.tensor(kappa, dtype=torch.float64)
    a = bessel_ratio(m / 2, k)
    var = kappa_mean_resultant_derivative(m, k, a) / k
    return float(a), float(var)


def power_spherical_moments(m, kappa):
    """(E[t], Var[t]) of t = mu.z = 2x - 1, x ~ Beta(alpha, beta)."""
    alpha, beta = (m - 1) / 2 + kappa, (m - 1) / 2
    s = alpha + beta
    return (alpha - beta) / s, 4 * alpha * beta / (s * s * (s + 1))


def check_sample(z, loc, moments, dtype_name):
    """bad_share, mean_resultant, expected, tolerance, correct (see the module docstring)."""
    z = torch.as_tensor(z).detach().to("cpu", torch.float64)
    n, m = z.shape
    norms = torch.linalg.vector_norm(z, dim=-1)
    bad = torch.isnan(z).any(-1) | ((norms - 1).abs() > UNIT_TOL[dtype_name])
    good = z[~torch.isnan(z).any(-1)]
    resultant = float(torch.linalg.vector_norm(good.mean(0))) if len(good) else math.nan
    mean, var = moments
    expected = math.sqrt(mean**2 + (1 - mean**2) / n)
    tangential = max(1 - (var + mean**2), 0.0) / (m - 1)
    tol = N_SD * math.sqrt((var + tangential) / n) + (FLOAT32_ROUNDING if dtype_name == "float32" else 0.0)
    bad_share = float(bad.double().mean())
    correct = bad_share == 0 and abs(resultant - expected) <= tol
    return {
        "bad_share": bad_share,
        "max_norm_dev": float((norms - 1).abs().nan_to_num(math.inf).max()),
        "mean_resultant": resultant,
        "reference_A": mean,
        "expected": expected,
        "tolerance": tol,
        "correct": bool(correct),
    }


# --- timing -------------------------------------------------------------------------------


def timed(fn, device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, out


def bench_rsample_cell(device, dtype_name, m, kappa, args, scipy_cache):
    dtype = getattr(torch, dtype_name)
    g = torch.Generator().manual_seed(m)
    loc = torch.randn(m, generator=g, dtype=torch.float64)
    loc = (loc / loc.norm()).to(device=device, dtype=dtype)
    rows, calls = {}, {}
    for name, make in SAMPLERS.items():
        if name == "scipy" and (m, kappa) in scipy_cache:
            rows[name] = dict(scipy_cache[(m, kappa)], note="float64 run reused (scipy has no float32)")
            continue
        n, note = args.batch, ""
        if name in SLOW:
            # Warm-up on a subsample: predicts the cell's time; too slow -> stay on the subsample.
            probe_n = min(SUBSAMPLE, args.batch)
            probe_s, _ = timed(make(loc, kappa, probe_n), device)
            predicted = probe_s * args.batch / probe_n * (1 + args.slow_repeats)
            if predicted > CELL_BUDGET_S:
                n, note = probe_n, f"timed on {probe_n} and scaled x{args.batch // probe_n} (predicted {predicted:.0f} s for the cell)"
        fn = make(loc, kappa, n)
        torch.manual_seed(1000 * m + int(math.log10(kappa)))
        warm_s, z = timed(fn, device)
        moments = power_spherical_moments(m, kappa) if name == "power_spherical" else vmf_moments(m, kappa)
        check = check_sample(z[0] if name == "floor" else z, loc, moments, dtype_name) if name != "floor" else {}
        del z
        rows[name] = {"n_timed": n, "note": note, "warmup_s": warm_s, "times": [], **check}
        calls[name] = fn
    repeats = {name: (args.slow_repeats if name in SLOW else args.repeats) for name in calls}
    for r in range(max(repeats.values(), default=0)):
        for name, fn in calls.items():
            if r < repeats[name]:
                rows[name]["times"].append(timed(fn, device)[0])
    out = []
    for name, row in rows.items():
        if "times" in row:
            times = row.pop("times")
            row["repeats"] = len(times)
            row["median_s"] = statistics.median(times) * args.batch / row["n_timed"]
        if name == "scipy" and dtype_name == "float64":
            scipy_cache[(m, kappa)] = dict(row)
        out.append({"task": "rsample", "dtype": dtype_name, "m": m, "kappa": kappa, "batch": args.batch, "method": name, **row})
    ours = rows["ours"]["median_s"]
    for row in out:
        row["samples_per_s"] = args.batch / row["median_s"]
        row["speedup_ours"] = row["median_s"] / ours  # how many times faster ours is than this method
    return out


# --- KL -------------------------------------------------------------------------------------


def kl_ours(kappa, m):
    loc = torch.zeros(m, dtype=kappa.dtype, device=kappa.device)
    loc[0] = 1
    q = VonMisesFisher(loc.expand(len(kappa), -1), kappa)
    return torch.distributions.kl_divergence(q, HypersphericalUniform(m, dtype=kappa.dtype, device=kappa.device))


def kl_scipy_ive(kappa, m):
    return _pythae()._compute_kl(m, kappa.unsqueeze(-1))


KL_METHODS = {"ours": kl_ours, "scipy_ive": kl_scipy_ive}


def bench_kl(device, dtype_name, m, args):
    dtype = getattr(torch, dtype_name)
    g = torch.Generator().manual_seed(7)
    base = 10 ** (4 * torch.rand(args.batch, generator=g, dtype=torch.float64))  # log-uniform in [1, 1e4]
    kappa0 = base.to(device=device, dtype=dtype)

    def call(method):
        kappa = kappa0.clone().requires_grad_(True)
        kl = KL_METHODS[method](kappa, m)
        kl.sum().backward()
        return kl.detach(), kappa.grad

    # The official formula in float64 numpy (pythae's own float64 run keeps float32 constants such
    # as log(2 pi) and lgamma(m/2), which cost ~1e-3 relative accuracy at m = 129).
    reference = torch.from_numpy(official_kl(m, base.numpy(), np.float64))
    finite_ref = torch.isfinite(reference)
    rows = {}
    for method in KL_METHODS:
        warm_s, (kl, grad) = timed(lambda: call(method), device)
        kl, grad = kl.cpu().double(), grad.cpu().double()
        bad = ~torch.isfinite(kl) | ~torch.isfinite(grad)
        ok = finite_ref & ~bad
        rel = ((kl[ok] - reference[ok]).abs() / reference[ok].abs().clamp_min(1e-300)).max() if ok.any() else torch.tensor(math.nan)
        rows[method] = {"warmup_s": warm_s, "times": [], "bad_share": float(bad.double().mean()), "max_rel_dev": float(rel)}
    for _ in range(args.repeats):
        for method in KL_METHODS:
            rows[method]["times"].append(timed(lambda: call(method), device)[0])
    out = []
    for method, row in rows.items():
        times = row.pop("times")
        out.append({
            "task": "kl_grad", "dtype": dtype_name, "m": m, "kappa": "log-uniform [1, 1e4]", "batch": args.batch,
            "method": method, "n_timed": args.batch, "repeats": len(times), "median_s": statistics.median(times),
            "correct": row["bad_share"] == 0, "note": "", **row,
        })
    ours = out[0]["median_s"]
    for row in out:
        row["samples_per_s"] = args.batch / row["median_s"]
        row["speedup_ours"] = row["median_s"] / ours
    return out


# --- report ---------------------------------------------------------------------------------


def targets(df, device):
    """Each target of the issue: met in how many cells, and where the floor makes it impossible."""
    rs = df[df.task == "rsample"].pivot_table(index=["dtype", "m", "kappa"], columns="method", values="median_s")
    correct = df[(df.task == "rsample") & (df.method == "ours")]["correct"]
    official = TARGETS[f"rsample_vs_pythae_{device.type}"] if device.type in ("cpu", "cuda") else TARGETS["rsample_vs_pythae_cpu"]
    speed_pythae = rs["pythae"] / rs["ours"]
    ceiling = rs["pythae"] / rs["floor"]  # the speed-up of a sampler that cost no more than its draws
    vs_ps = rs["ours"] / rs["power_spherical"]
    kl = df[df.task == "kl_grad"].pivot_table(index=["dtype", "m"], columns="method", values="median_s")
    speed_kl = kl["scipy_ive"] / kl["ours"]
    result = {
        "rsample_vs_pythae": {
            "target": f">= {official:g}x", "cells_met": int((speed_pythae >= official).sum()), "cells": int(len(rs)),
            "min": float(speed_pythae.min()), "geomean": float(np.exp(np.log(speed_pythae).mean())),
            "cells_impossible_given_floor": int((ceiling < official).sum()),
            "floor_ceiling_min": float(ceiling.min()),
        },
        "rsample_within_2x_of_power_spherical": {
            "target": "ours / power_spherical <= 2", "cells_met": int((vs_ps <= 2).sum()), "cells": int(len(rs)),
            "max_ratio": float(vs_ps.max()),
            "cells_impossible_given_floor": int((rs["floor"] / rs["power_spherical"] > 2).sum()),
        },
        "kl_grad_vs_scipy_ive": {
            "target": f">= {TARGETS['kl_grad_vs_scipy_ive']:g}x", "cells_met": int((speed_kl >= TARGETS["kl_grad_vs_scipy_ive"]).sum()),
            "cells": int(len(kl)), "min": float(speed_kl.min()), "geomean": float(np.exp(np.log(speed_kl).mean())),
        },
        "ours_correct_everywhere": {
            "rsample_cells_correct": int(correct.sum()), "cells": int(len(correct)),
            "kl_cells_correct": int(df[(df.task == "kl_grad") & (df.method == "ours")]["correct"].sum()),
        },
    }
    for key in ("rsample_vs_pythae", "rsample_within_2x_of_power_spherical", "kl_grad_vs_scipy_ive"):
        result[key]["met"] = result[key]["cells_met"] == result[key]["cells"]
    c = result["ours_correct_everywhere"]
    c["met"] = c["rsample_cells_correct"] == c["cells"] and c["kl_cells_correct"] == len(kl)
    return result


def readable(df):
    """One line per cell: ours in ms, ours / floor, and per peer 'speed-up of ours [correct?]'."""
    lines = []
    rs = df[df.task == "rsample"]
    peers = ["pythae", "scipy", "power_spherical"]
    head = f"{'dtype':8}{'m':>4}{'kappa':>8}{'ours ms':>9}{'ok':>4}{'/floor':>8}" + "".join(f"{p:>22}" for p in peers) + f"{'floor ms':>10}"
    lines += ["rsample, batch %d: speed-up of ours over each peer (peer time / our time), [correct?]" % int(rs.batch.iloc[0]), head]
    for (dtype, m, kappa), cell in rs.groupby(["dtype", "m", "kappa"], sort=True):
        by = cell.set_index("method")
        ours = by.loc["ours"]
        line = f"{dtype:8}{m:>4}{kappa:>8g}{1e3 * ours.median_s:>9.1f}{'y' if ours.correct else 'NO':>4}{ours.median_s / by.loc['floor'].median_s:>8.2f}"
        for p in peers:
            row = by.loc[p]
            mark = ("y" if row.correct else "NO") + ("*" if row.n_timed < row.batch else "")
            line += f"{row.speedup_ours:>17.2f}x [{mark:>2}]"
        lines.append(line + f"{1e3 * by.loc['floor'].median_s:>10.1f}")
    lines.append("* timed on a subsample and scaled; correct? = no NaN / off-sphere rows and ||mean z|| within 5 sd of its expectation")
    kl = df[df.task == "kl_grad"]
    lines += ["", "KL + grad, batch %d, kappa log-uniform in [1, 1e4]" % int(kl.batch.iloc[0]),
              f"{'dtype':8}{'m':>4}{'ours ms':>9}{'scipy-ive ms':>14}{'speed-up':>10}{'ours bad':>10}{'ive bad':>9}{'ours rel dev':>14}"]
    for (dtype, m), cell in kl.groupby(["dtype", "m"], sort=True):
        by = cell.set_index("method")
        o, s = by.loc["ours"], by.loc["scipy_ive"]
        lines.append(f"{dtype:8}{m:>4}{1e3 * o.median_s:>9.1f}{1e3 * s.median_s:>14.1f}{s.median_s / o.median_s:>9.1f}x"
                     f"{o.bad_share:>10.3f}{s.bad_share:>9.3f}{o.max_rel_dev:>14.1e}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--repeats", type=int, default=5, help="timed calls of ours, power_spherical, floor and the KLs")
    parser.add_argument("--slow-repeats", type=int, default=3, help="timed calls of pythae and scipy")
    parser.add_argument("--ms", type=int, nargs="+", default=list(MS))
    parser.add_argument("--kappas", type=float, nargs="+", default=list(KAPPAS))
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=DTYPES)
    parser.add_argument("--out", type=Path, default=PROJECT / "results" / "benchmarks" / "vmf")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice). On a shared, loaded machine use 1: "
                             "multi-threaded ops then stall on descheduled threads, which makes the many small "
                             "ops of a sampler or of the Bessel functions erratically slow")
    parser.add_argument("--quick", action="store_true", help="batch 1e4, m in {3, 41}, 2 repeats; writes nothing")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.ms, args.repeats, args.slow_repeats = 10_000, [3, 41], 2, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device available")
    import warnings

    warnings.filterwarnings("ignore", message="To copy construct from a tensor")  # pythae's sampler
    started = time.perf_counter()
    rows, scipy_cache = [], {}
    for dtype_name in sorted(args.dtypes, key=lambda d: d != "float64"):  # float64 first: scipy's run is reused
        for m in args.ms:
            for kappa in args.kappas:
                t0 = time.perf_counter()
                rows += bench_rsample_cell(device, dtype_name, m, kappa, args, scipy_cache)
                print(f"  rsample {dtype_name} m={m} kappa={kappa:g}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    for dtype_name in args.dtypes:
        for m in args.ms:
            rows += bench_kl(device, dtype_name, m, args)
    df = pd.DataFrame(rows)
    wall = time.perf_counter() - started
    print(readable(df))
    result = targets(df, device)
    print("\nTargets:")
    for key, value in result.items():
        print(f"  {key}: {'MET' if value['met'] else 'NOT MET'}  {json.dumps({k: v for k, v in value.items() if k != 'met'})}")
    print(f"\nwall time {wall:.0f} s; {args.repeats} repeats (pythae, scipy: {args.slow_repeats}), medians, warm-up excluded")
    if args.quick:
        return df
    args.out.mkdir(parents=True, exist_ok=True)
    cols = ["task", "dtype", "m", "kappa", "batch", "method", "n_timed", "repeats", "median_s", "samples_per_s",
            "speedup_ours", "warmup_s", "correct", "bad_share", "max_norm_dev", "mean_resultant", "reference_A", "expected",
            "tolerance", "max_rel_dev", "note"]
    df = df[cols]
    df.to_csv(args.out / f"{device.type}.csv", index=False)
    provenance = {
        **environment(device),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": sys.version.split()[0],
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "packages": _versions(),
        "batch": args.batch,
        "repeats": args.repeats,
        "slow_repeats": args.slow_repeats,
        "slow_methods": list(SLOW),
        "subsample": SUBSAMPLE,
        "cell_budget_s": CELL_BUDGET_S,
        "tolerance": f"{N_SD:g} sd (+{FLOAT32_ROUNDING:g} in float32); unit-norm tolerance {UNIT_TOL}",
        "wall_s": wall,
        "targets": result,
        "command": " ".join(sys.argv),
    }
    (args.out / f"{device.type}.json").write_text(json.dumps(provenance, indent=2, default=str) + "\n")
    print(f"wrote {args.out / (device.type + '.csv')} and .json")
    return df


def _versions():
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("numpy", "scipy", "pythae", "power-spherical"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


if __name__ == "__main__":
    main()
