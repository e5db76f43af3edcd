r"""The official code's missing g_cor: the S-VAE of Table 1 trained with the paper's full gradient.

The paper's gradient of the reconstruction term is g_rep + g_cor (its Lemma 2); the official code
computes g_rep only, holding the accepted noise of the rejection sampler fixed. This ablation
trains the S-VAE under Table 1's protocol with ``gradient = "g_rep+g_cor"`` and compares it with
the Table 1 runs of the same seeds. A run's seeds depend on its model and d only, so both
estimators start from the same parameters and draw the same random numbers: the comparison is
paired by run.

At d = 2 (S^2, m = 3) the sampler draws w in closed form, no sample is rejected and g_cor is
exactly 0 (``tests/test_training.py`` checks the two gradients are equal bit for bit), so no
training is needed there; ``ABLATION_DIMS`` holds the dimensions that are trained.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pandas as pd

from hvae_lib import stats
from hvae_lib.experiments import table1
from hvae_lib.experiments.vae_runs import VAEProtocol
from hvae_lib.results import training_precision

ABLATION_DIMS = (10,)
CLOSED_FORM_DIMS = (2,)
FULL = "g_rep+g_cor"
OFFICIAL = "g_rep"


def full_gradient_protocol(profile: str) -> VAEProtocol:
    """The profile's Table 1 protocol with the paper's full gradient."""
    protocol = table1.PROFILES[profile].protocol
    return replace(protocol, schedule=replace(protocol.schedule, gradient=FULL))


def gradient_runs(
    profile: str, dims: tuple[int, ...] = ABLATION_DIMS, runs: int | None = None, train: bool = True, precision: str | None = None,
) -> pd.DataFrame:
    """The S-VAE runs at ``dims`` under both estimators, one row per (gradient, d, run): the
    full-gradient runs trained here (or, with ``train=False``, those stored so far) and the
    Table 1 runs stored so far (g_rep, never trained here)."""
    protocol = full_gradient_protocol(profile)
    if train:
        full = table1.table1_runs(profile, dims, precision, runs=runs, models=("S-VAE",), protocol=protocol)
        full = full.assign(precision=precision or protocol.schedule.precision)
    else:
        full = table1.stored_runs(profile, protocol=protocol)
    official = table1.stored_runs(profile)
    frames = [frame[(frame["model"] == "S-VAE") & frame["d"].isin(dims)].assign(gradient=name)
              for name, frame in ((OFFICIAL, official), (FULL, full)) if not frame.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["gradient", "d", "run", "LL", "precision"])


def paired(runs: pd.DataFrame, d: int, metric: str = "LL") -> pd.DataFrame:
    """The runs at ``d`` trained under both estimators in the same precision: one row per run,
    one column per estimator (no rows where none is paired yet)."""
    cell = runs[runs["d"] == d] if not runs.empty else runs
    wide = cell.pivot_table(index=["run", "precision"], columns="gradient", values=metric) if not cell.empty else pd.DataFrame()
    if not {OFFICIAL, FULL} <= set(wide.columns):
        return pd.DataFrame(columns=[OFFICIAL, FULL], dtype=float)
    return wide[[OFFICIAL, FULL]].dropna().droplevel("precision")


def gradient_table(profile: str, metrics: tuple[str, ...] = ("LL", "ELBO", "KL")) -> pd.DataFrame:
    """Per d and metric: both estimators' mean ± sd over the paired runs, the mean paired
    difference (full minus g_rep) with its bootstrap 95% interval, and the paired t-test's p. The
    d = 2 row states the closed form; a trained d with fewer than two pairs says how many."""
    runs = gradient_runs(profile, train=False)
    rows = [{"d": d, "metric": "every gradient", "runs": "none needed", f"S-VAE, {OFFICIAL}": "identical",
             f"S-VAE, {FULL}": "identical", "full − g_rep": "0 exactly", "95% interval": "(m = 3: no rejection)", "paired p": "—"}
            for d in CLOSED_FORM_DIMS]
    for metric in metrics:
        for d in ABLATION_DIMS:
            cell = paired(runs, d, metric)
            row = {"d": d, "metric": metric, "runs": f"{len(cell)} paired"}
            if len(cell) < 2:
                alone = {name: runs.loc[(runs["gradient"] == name) & (runs["d"] == d), metric] if not runs.empty else pd.Series(dtype=float)
                         for name in (OFFICIAL, FULL)}
                rows.append({**row, **{f"S-VAE, {name}": _mean_sd(values) if len(values) > 1 else "not yet trained" for name, values in alone.items()},
                             "full − g_rep": "—", "95% interval": "—", "paired p": "—"})
                continue
            low, high = stats.bootstrap_mean_difference(cell[FULL], cell[OFFICIAL], paired=True)
            rows.append({
                **row,
                f"S-VAE, {OFFICIAL}": _mean_sd(cell[OFFICIAL]), f"S-VAE, {FULL}": _mean_sd(cell[FULL]),
                "full − g_rep": f"{(cell[FULL] - cell[OFFICIAL]).mean():+.2f}", "95% interval": f"[{low:+.2f}, {high:+.2f}]",
                "paired p": f"{stats.paired_t_p(cell[FULL], cell[OFFICIAL]):.3f}",
            })
    return pd.DataFrame(rows).set_index(["d", "metric"])


def summary(profile: str) -> str:
    """One line for the audit's register: the LL change at each trained d, or what is missing."""
    runs = gradient_runs(profile, train=False)
    parts = ["d = 2: g_cor is exactly 0 (closed-form sampler)"]
    for d in ABLATION_DIMS:
        cell = paired(runs, d)
        if len(cell) < 2:
            parts.append(f"d = {d}: not yet trained ({len(cell)} paired runs)")
            continue
        difference = cell[FULL] - cell[OFFICIAL]
        parts.append(f"d = {d}: LL {difference.mean():+.2f} nats with g_cor (paired p = {stats.paired_t_p(cell[FULL], cell[OFFICIAL]):.2f}, "
                     f"{len(cell)} runs, wins {int(np.sum(difference > 0))} of {len(cell)})")
    return "; ".join(parts)


def _mean_sd(values: pd.Series) -> str:
    return f"{values.mean():.2f} ± {values.std():.2f}"


def main(argv: list[str] | None = None) -> None:
    """One unit of the ablation in a background job, e.g.
    ``python -m hvae_lib.experiments.gradient_ablation full --runs 5``."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("profile", choices=tuple(table1.PROFILES))
    parser.add_argument("--dims", type=int, nargs="+", default=list(ABLATION_DIMS))
    parser.add_argument("--runs", type=int)
    parser.add_argument("--precision", choices=("float32", "bfloat16"), help="training matmuls (default: the profile's, float32 where the CPU lacks native bfloat16)")
    args = parser.parse_args(argv)
    args.precision = args.precision or training_precision(table1.PROFILES[args.profile].protocol.schedule.precision)
    start = time.perf_counter()
    frame = gradient_runs(args.profile, tuple(args.dims), args.runs, precision=args.precision)
    print(frame[["gradient", "d", "run", "LL", "ELBO", "epochs", "best_epoch"]].to_string(index=False))
    print(f"wall time {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
