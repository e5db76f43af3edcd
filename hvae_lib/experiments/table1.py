"""Table 1: unsupervised MNIST, N-VAE vs S-VAE for d = 2, 5, 10, 20, 40.

Protocol (``full``, the paper's as far as known): encoder 784-256-128, decoder mirrored,
Bernoulli likelihood on dynamically binarised MNIST, 55k/5k/10k split, Adam 1e-3, batch 64,
KL warm-up over 100 epochs, early stopping with patience 50 on the validation ELBO, at most 500
epochs, IWAE with 500 samples on the 10k test images, 10 runs. ``cpu`` and ``smoke`` shrink
the data, epochs, runs and importance samples (see ``PROFILES``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from hvae_lib.data import load_images
from hvae_lib.experiments.vae_runs import VAEProtocol, run_vae
from hvae_lib.plotting import COLORS
from hvae_lib.results import RunStore, results_dir
from hvae_lib.training.vae_training import TrainingSchedule

MODELS = {"N-VAE": "normal", "S-VAE": "vmf"}
METRICS = ("LL", "ELBO", "RE", "KL")


@dataclass(frozen=True)
class Table1Profile:
    dims: tuple[int, ...]
    runs: int
    n_train: int
    n_valid: int
    n_test: int
    protocol: VAEProtocol


PROFILES = {
    "smoke": Table1Profile(
        dims=(2, 5), runs=2, n_train=512, n_valid=256, n_test=128,
        protocol=VAEProtocol(TrainingSchedule(max_epochs=3, warmup_epochs=1, patience=2), hidden=(256, 128), iwae_samples=16),
    ),
    "cpu": Table1Profile(
        dims=(2, 5, 10, 20, 40), runs=3, n_train=10000, n_valid=2000, n_test=2000,
        protocol=VAEProtocol(
            TrainingSchedule(max_epochs=30, warmup_epochs=10, patience=10, batch_size=100),
            hidden=(256, 128), iwae_samples=100,
        ),
    ),
    "full": Table1Profile(
        dims=(2, 5, 10, 20, 40), runs=10, n_train=55000, n_valid=5000, n_test=10000,
        protocol=VAEProtocol(TrainingSchedule(max_epochs=500, warmup_epochs=100, patience=50), hidden=(256, 128), iwae_samples=500),
    ),
}

# Davidson et al. (2018), Table 1 (mean +- sd over 10 runs; the sd of L[q] is unconfirmed).
PAPER = pd.DataFrame(
    [
        ("N-VAE", 2, -135.73, 0.83, -137.08, -129.84, 0.91, 7.24, 0.11),
        ("S-VAE", 2, -132.50, 0.73, -133.72, -126.43, 0.91, 7.28, 0.14),
        ("N-VAE", 5, -110.21, 0.21, -112.98, -100.16, 0.22, 12.82, 0.11),
        ("S-VAE", 5, -108.43, 0.09, -111.19, -97.84, 0.13, 13.35, 0.06),
        ("N-VAE", 10, -93.84, 0.30, -98.36, -78.93, 0.30, 19.44, 0.14),
        ("S-VAE", 10, -93.16, 0.31, -97.70, -77.03, 0.39, 20.67, 0.08),
        ("N-VAE", 20, -88.90, 0.26, -94.79, -71.29, 0.45, 23.50, 0.31),
        ("S-VAE", 20, -89.02, 0.31, -96.15, -67.65, 0.43, 28.50, 0.22),
        ("N-VAE", 40, -88.93, 0.30, -94.91, -71.14, 0.56, 23.77, 0.49),
        ("S-VAE", 40, -90.87, 0.34, -101.26, -67.75, 0.70, 33.50, 0.45),
    ],
    columns=["model", "d", "LL", "LL sd", "ELBO", "RE", "RE sd", "KL", "KL sd"],
).set_index(["model", "d"])

# The seed reproduction's published LL (5 runs on 10% of the data; see the critique chapter).
SEED_REPRODUCTION_LL = {
    ("N-VAE", 2): -137.42, ("S-VAE", 2): -134.18, ("N-VAE", 5): -112.03, ("S-VAE", 5): -110.27,
    ("N-VAE", 10): -95.51, ("S-VAE", 10): -94.72, ("N-VAE", 20): -90.34, ("S-VAE", 20): -90.89,
    ("N-VAE", 40): -90.21, ("S-VAE", 40): -92.14,
}


def table1_store(profile: str) -> RunStore:
    return RunStore("table1", profile)


def table1_runs(profile: str, dims: tuple[int, ...] | None = None) -> pd.DataFrame:
    """Train (or read from the cache) every run of Table 1; one row per run.

    Columns: model, d, run, LL, ELBO, RE, KL, epochs, best_epoch, wall_s, protocol. The d = 2
    runs also store their test-set latent codes for Figure 2.
    """
    setup = PROFILES[profile]
    data = load_images("mnist")
    train, valid, test = data.train.head(setup.n_train), data.valid.head(setup.n_valid), data.test.head(setup.n_test)
    store = table1_store(profile)
    frames = []
    for d in dims or setup.dims:
        for name, latent in MODELS.items():
            frames.append(
                run_vae(
                    store, {"model": name, "d": d}, latent, d, range(setup.runs), setup.protocol,
                    train.images, valid.images, test.images,
                    latent_codes_of=test.images if d == 2 else None,
                )
            )
    return pd.concat(frames, ignore_index=True)


def protocol_table(profile: str) -> pd.DataFrame:
    """The protocol of ``profile`` next to the paper's (the ``full`` profile)."""

    def describe(setup: Table1Profile) -> dict[str, object]:
        schedule = setup.protocol.schedule
        return {
            "runs per configuration": setup.runs,
            "train / validation / test images": f"{setup.n_train} / {setup.n_valid} / {setup.n_test}",
            "batch size": schedule.batch_size,
            "max epochs": schedule.max_epochs,
            "KL warm-up epochs": schedule.warmup_epochs,
            "early-stopping patience": schedule.patience,
            "IWAE samples K": setup.protocol.iwae_samples,
            "hidden layers": "-".join(map(str, setup.protocol.hidden)),
        }

    return pd.DataFrame({f"this chapter ({profile})": describe(PROFILES[profile]), "paper (full)": describe(PROFILES["full"])})


def table1_summary(runs: pd.DataFrame, metrics: tuple[str, ...] = METRICS) -> pd.DataFrame:
    """Ours (mean +- sd over runs) next to the paper, per (d, model); with LL, also the seed
    reproduction's published LL."""
    grouped = runs.groupby(["model", "d"])
    ours = grouped[list(metrics)].agg(["mean", "std"])
    rows = []
    for (model, d), row in ours.iterrows():
        entry = {"model": model, "d": d}
        for metric in metrics:
            entry[f"{metric} ours"] = f"{row[(metric, 'mean')]:.2f} ± {row[(metric, 'std')]:.2f}"
            paper = PAPER.loc[(model, d)]
            sd = paper.get(f"{metric} sd")
            entry[f"{metric} paper"] = f"{paper[metric]:.2f}" + (f" ± {sd:.2f}" if sd is not None and not np.isnan(sd) else "")
        if "LL" in metrics:
            entry["LL seed repro."] = f"{SEED_REPRODUCTION_LL[(model, d)]:.2f}"
        rows.append(entry)
    return pd.DataFrame(rows).set_index(["d", "model"]).sort_index()


def welch_tests(runs: pd.DataFrame) -> pd.DataFrame:
    """Per d and metric: the S-VAE minus N-VAE mean difference and Welch's t-test p-value."""
    rows = []
    for d, group in runs.groupby("d"):
        for metric in ("LL", "RE"):
            s = group.loc[group["model"] == "S-VAE", metric]
            n = group.loc[group["model"] == "N-VAE", metric]
            test = stats.ttest_ind(s, n, equal_var=False)
            rows.append({"d": d, "metric": metric, "S - N (ours)": round(s.mean() - n.mean(), 2),
                         "S - N (paper)": round(PAPER.loc[("S-VAE", d), metric] - PAPER.loc[("N-VAE", d), metric], 2),
                         "Welch p": float(f"{test.pvalue:.3g}")})
    return pd.DataFrame(rows).set_index(["d", "metric"])


def claims(runs: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """The paper's claims, each marked confirmed / refuted / not significant on our runs.

    "S-VAE better LL for d <= 10, N-VAE better LL for d >= 20; S-VAE better RE at every d".
    A claim is confirmed at d when the difference has the claimed sign and Welch p < alpha,
    refuted when the opposite sign is significant, and "not significant" otherwise.
    """
    tests = welch_tests(runs)
    rows = []
    for (d, metric), row in tests.iterrows():
        if metric == "LL":
            claimed = "S-VAE" if d <= 10 else "N-VAE"
            statement = f"{claimed} has the better LL"
        else:
            claimed = "S-VAE"
            statement = "S-VAE has the better RE"
        sign = 1 if claimed == "S-VAE" else -1
        difference = sign * row["S - N (ours)"]
        if row["Welch p"] < alpha:
            verdict = "confirmed" if difference > 0 else "refuted"
        else:
            verdict = "not significant"
        rows.append({"d": d, "claim": statement, "verdict": verdict, "Welch p": row["Welch p"]})
    return pd.DataFrame(rows).set_index(["d", "claim"])


def table1_figure(runs: pd.DataFrame) -> plt.Figure:
    """LL, RE and KL against d: ours (mean +- sd over runs, solid) and the paper (dashed)."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
    for ax, metric in zip(axes, ("LL", "RE", "KL")):
        for model, latent in MODELS.items():
            color = COLORS[latent]
            ours = runs[runs["model"] == model].groupby("d")[metric].agg(["mean", "std"])
            ax.errorbar(ours.index, ours["mean"], yerr=ours["std"], color=color, marker="o", capsize=3, label=f"{model} (ours)")
            paper = PAPER.xs(model, level="model")[metric]
            ax.plot(paper.index, paper.values, color=color, linestyle="--", marker="x", alpha=0.7, label=f"{model} (paper)")
        ax.set_xscale("log")
        ax.set_xticks(list(PAPER.index.get_level_values("d").unique()))
        ax.set_xticklabels([str(d) for d in PAPER.index.get_level_values("d").unique()])
        ax.minorticks_off()
        ax.set_xlabel("latent manifold dimension d")
        ax.set_title(metric)
    axes[0].legend(fontsize=9)
    return fig


def ensemble_benchmark(device: str = "cpu") -> tuple[pd.DataFrame, dict] | None:
    """The stored output of ``benchmarks/ensemble.py`` for ``device`` (table, provenance), if run."""
    folder = results_dir() / "benchmarks" / "ensemble"
    if not (folder / f"{device}.csv").exists():
        return None
    meta = json.loads((folder / f"{device}.json").read_text())
    return pd.read_csv(folder / f"{device}.csv").round(2), meta
