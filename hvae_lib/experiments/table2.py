"""Table 2: K-NN classification on the latent codes of Table 1's models (the paper's M1).

Every Table 1 run stores, when it ends, the test accuracy of a K-NN classifier on its posterior
means for 100, 600 and 1000 class-balanced labelled training points, 20 label draws (the same
draws for every model), k = 1, 5, 10, and two distances for the N-VAE (Euclidean, cosine); see
``table1._after_training`` and ``hvae_lib.evaluation.knn``. This module collects them and tests
S-VAE against N-VAE with the trained model as the unit of replication.
"""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import MatplotlibDeprecationWarning

from hvae_lib.experiments.table1 import MODELS, PROFILES, full_protocol_dims, run_artifact, stored_runs, table1_runs, verdict_words
from hvae_lib.plotting import COLORS
from hvae_lib.results import RunStore
from hvae_lib.stats import format_p, holm, welch_p

# Davidson et al. (2018), Table 2: test accuracy (%) of K-NN on the M1 latent codes (means only).
PAPER = pd.DataFrame(
    [
        (2, 72.6, 77.9, 80.8, 84.9, 81.7, 85.6),
        (5, 81.8, 87.5, 90.9, 92.8, 92.0, 93.4),
        (10, 75.7, 80.6, 88.4, 91.2, 90.2, 92.8),
        (20, 71.3, 72.8, 88.3, 89.1, 90.1, 91.1),
        (40, 72.3, 67.7, 88.0, 87.4, 90.3, 90.4),
    ],
    columns=["d", "N 100", "S 100", "N 600", "S 600", "N 1000", "S 1000"],
).set_index("d")

# The paper's claim per cell, read from its stars: the S-VAE is better everywhere except at
# d = 40, where the N-VAE is better with 100 labels and neither is starred with 600 or 1000.
PAPER_BETTER = {(40, 100): "N-VAE", (40, 600): None, (40, 1000): None}

HEADLINE = {"k": 1, "metric": "euclidean"}  # arc length for the S-VAE (same neighbours), Euclidean for the N-VAE


def table2_runs(profile: str, train: bool = True) -> pd.DataFrame:
    """Every stored K-NN accuracy of the profile's Table 1 runs, one row per (model, d, run,
    labels, draw, k, metric). Trains the Table 1 runs that are missing and returns those of the
    profile's protocol (``table1_runs``), or with ``train=False`` returns every run stored so far
    (``stored_runs``). Either way ``results/table2/<profile>/runs.csv`` lists every stored run, so
    the file does not depend on which caller wrote it last."""
    chosen = table1_runs(profile) if train else None
    table = _knn_rows(profile, stored_runs(profile))
    folder = RunStore("table2", profile).folder
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "runs.csv", index=False, float_format="%.2f")
    if chosen is None:
        return table
    keys = chosen[["model", "d", "run"]].astype({"d": int, "run": int}).drop_duplicates()
    return table.merge(keys, on=["model", "d", "run"])


def _knn_rows(profile: str, runs: pd.DataFrame) -> pd.DataFrame:
    """The stored ``knn.csv`` of each run, with its model, d and seed."""
    frames = []
    for run in runs.sort_values(["model", "d", "run"]).itertuples(index=False):
        path = run_artifact(profile, run, "knn.csv")
        if not path.exists():
            raise FileNotFoundError(f"no K-NN results for {run.model}, d = {run.d}, run {run.run}: {path} is missing")
        frames.append(pd.read_csv(path).assign(model=run.model, d=int(run.d), run=int(run.run)))
    return pd.concat(frames, ignore_index=True)[["model", "d", "run", "labels", "draw", "k", "metric", "accuracy"]]


def _headline(knn: pd.DataFrame, k: int = 1, n_metric: str = "euclidean") -> pd.DataFrame:
    keep = (knn["k"] == k) & (((knn["model"] == "N-VAE") & (knn["metric"] == n_metric)) | ((knn["model"] == "S-VAE") & (knn["metric"] == "euclidean")))
    return knn[keep]


def variance_components(cell: pd.DataFrame) -> dict[str, float]:
    """One-way random effects over models x draws of one (model, d, labels) cell: the label-draw
    variance s2_label = mean within-model variance, the model variance
    s2_model = max(0, var(model means) - s2_label / draws), and sd_run = sqrt(both), the spread of
    one (independent model, independent draw) pair."""
    by_model = cell.groupby("run")["accuracy"]
    draws = by_model.size().min()
    s2_label = float(by_model.var(ddof=1).mean()) if draws > 1 else float("nan")
    model_means = by_model.mean()
    s2_model = max(0.0, float(model_means.var(ddof=1)) - (s2_label if draws > 1 else 0.0) / draws) if len(model_means) > 1 else float("nan")
    return {"sd_model": np.sqrt(s2_model), "sd_label": np.sqrt(s2_label), "sd_run": np.sqrt(s2_model + s2_label)}


def table2(knn: pd.DataFrame, profile: str, k: int = 1, n_metric: str = "euclidean") -> pd.DataFrame:
    """Per (d, labels): ours (mean ± sd_run over models and draws) next to the paper, S - N, the
    Welch p-value on per-model means (each the mean over the 20 shared draws), Holm-corrected
    over the table's cells, and the verdict on "the S-VAE classifies better"."""
    data = _headline(knn, k, n_metric)
    rows = []
    for (d, labels), cell in data.groupby(["d", "labels"]):
        row = {"d": d, "labels": labels}
        means = {}
        for model in MODELS:
            part = cell[cell["model"] == model]
            spread = variance_components(part)
            means[model] = part.groupby("run")["accuracy"].mean().to_numpy()
            row[f"{model} ours"] = f"{part['accuracy'].mean():.1f} ± {spread['sd_run']:.1f}"
            paper = PAPER.loc[d, f"{model[0]} {labels}"] if d in PAPER.index and f"{model[0]} {labels}" in PAPER else np.nan
            row[f"{model} paper"] = "" if np.isnan(paper) else f"{paper:.1f}"
        row["S − N"] = means["S-VAE"].mean() - means["N-VAE"].mean()
        row["p"] = welch_p(means["S-VAE"], means["N-VAE"])
        rows.append(row)
    table = pd.DataFrame(rows)
    table["p (Holm)"] = holm(table["p"].to_numpy())
    table["verdict"] = [_verdict(diff, p, profile, paper_better(d, n)) for d, n, diff, p in zip(table["d"], table["labels"], table["S − N"], table["p (Holm)"])]
    table["S − N"] = table["S − N"].map(lambda v: f"{v:+.1f}")
    for column in ("p", "p (Holm)"):
        table[column] = table[column].map(format_p)
    return table.set_index(["d", "labels"])


def full_protocol_table() -> pd.DataFrame:
    """``table2`` on the ``full`` models stored so far (the paper's protocol), at the d where
    both families have at least two runs (``full_protocol_dims``); Holm over these cells only."""
    dims = full_protocol_dims()
    if not dims:
        return pd.DataFrame({"d": ["all"], "labels": ["all"], "verdict": ["no d has two runs of each family yet"]}).set_index(["d", "labels"])
    knn = table2_runs("full", train=False)
    return table2(knn[knn["d"].isin(dims) & (knn["run"] < PROFILES["full"].runs)], "full")


def paper_better(d: int, labels: int) -> str | None:
    """The family the paper's Table 2 stars in a cell (None where it stars neither)."""
    return PAPER_BETTER.get((d, labels), "S-VAE")


def paper_claim(d: int, budgets: tuple[int, ...] = (100, 600, 1000)) -> str:
    """The paper's claim at ``d`` in words, over the label budgets (e.g. "the S-VAE's codes
    classify better (1-NN)")."""
    groups: dict[str | None, list[int]] = {}
    for labels in budgets:
        groups.setdefault(paper_better(d, labels), []).append(labels)
    if list(groups) == ["S-VAE"]:
        return "the S-VAE's codes classify better (1-NN)"
    said = [(f"the {family}'s codes classify better" if family else "neither classifies better") + f" with {' and '.join(map(str, ns))} labels"
            for family, ns in groups.items()]
    return "; ".join(said) + " (1-NN)"


def _verdict(difference: float, p: float, profile: str, claimed: str | None = "S-VAE", alpha: float = 0.05) -> str:
    """The verdict on the paper's claim in one cell: that ``claimed`` classifies better, or, with
    ``claimed`` None, that neither does. The words "confirmed" / "refuted" are kept for the
    paper's protocol (``full``); under a reduced budget the same outcome "holds" / is
    "reversed". A significant difference where the paper saw none is named by its family."""
    if np.isnan(p) or p >= alpha:
        return "not significant (as the paper)" if claimed is None else "not significant"
    better = "S-VAE" if difference > 0 else "N-VAE"
    if claimed is None:
        return f"{better} better (paper finds no difference)" + ("" if profile == "full" else " (reduced budget)")
    return verdict_words(profile)[1 if better == claimed else -1]


def spread_table(knn: pd.DataFrame) -> pd.DataFrame:
    """Per (d, labels, model): the spread of the headline accuracy split into a model-to-model
    part and a label-draw part (see ``variance_components``), in points of accuracy."""
    rows = []
    for (d, labels, model), cell in _headline(knn).groupby(["d", "labels", "model"]):
        spread = variance_components(cell)
        rows.append({"d": d, "labels": labels, "model": model, **{k: f"{v:.2f}" for k, v in spread.items()}})
    table = pd.DataFrame(rows).rename(columns={"sd_model": "sd models", "sd_label": "sd label draws", "sd_run": "sd run"})
    return table.set_index(["d", "labels", "model"])


def sensitivity_table(knn: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy under every k and, for the N-VAE, both distances: one row per (d, labels),
    one column per (model, distance, k)."""
    frame = knn.assign(variant=knn["model"].str[0] + " " + knn["metric"].str.replace("euclidean", "eucl.") + " k=" + knn["k"].astype(str))
    table = frame.groupby(["d", "labels", "variant"])["accuracy"].mean().unstack("variant")
    order = frame.drop_duplicates("variant").sort_values(["model", "metric", "k"])["variant"]
    return table[order.tolist()].map(lambda v: f"{v:.1f}")


def table2_figure(knn: pd.DataFrame) -> plt.Figure:
    """Headline accuracy (k = 1) against d for each label budget: ours (mean ± sd over models of
    the per-model mean over draws) and the paper (dashed)."""
    data = _headline(knn)
    budgets = sorted(data["labels"].unique())
    fig, axes = plt.subplots(1, len(budgets), figsize=(3.6 * len(budgets), 3.4), squeeze=False)
    for ax, labels in zip(axes[0], budgets):
        for model, latent in MODELS.items():
            part = data[(data["labels"] == labels) & (data["model"] == model)]
            per_model = part.groupby(["d", "run"])["accuracy"].mean().groupby("d").agg(["mean", "std"])
            ax.errorbar(per_model.index, per_model["mean"], yerr=per_model["std"], color=COLORS[latent], marker="o", capsize=3, label=f"{model} (ours)")
            column = f"{model[0]} {labels}"
            if column in PAPER:
                ax.plot(PAPER.index, PAPER[column], color=COLORS[latent], linestyle="--", marker="x", alpha=0.7, label=f"{model} (paper)")
        ax.set_xscale("log")
        ax.set_xticks(list(PAPER.index))
        ax.set_xticklabels([str(d) for d in PAPER.index])
        ax.minorticks_off()
        ax.set_xlabel("latent manifold dimension d")
        ax.set_title(f"{labels} labels")
    axes[0, 0].set_ylabel("1-NN test accuracy (%)")
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=len(names), frameon=False)
    return fig


def spread_figure(knn: pd.DataFrame, labels: int = 100) -> plt.Figure:
    """Every (model, label draw) pair's 1-NN accuracy at ``labels`` labels, one box per trained
    model (its 20 draws), N-VAE models left and S-VAE models right in each panel of d: the
    height of a box is the label-draw spread, the scatter of the boxes within a family the
    model-to-model spread."""
    data = _headline(knn)
    data = data[data["labels"] == labels].sort_values(["model", "run"])
    data = data.assign(trained=data["model"] + " " + data["run"].astype(str))
    dims = sorted(data["d"].unique())
    fig, axes = plt.subplots(1, len(dims), figsize=(2.4 * len(dims), 3.6), sharey=True, squeeze=False)
    palette = {model: COLORS[latent] for model, latent in MODELS.items()}
    for ax, d in zip(axes[0], dims):
        part = data[data["d"] == d]
        with warnings.catch_warnings():  # seaborn 0.13.2 passes matplotlib 3.11 the deprecated vert=
            warnings.filterwarnings("ignore", message="vert: bool was deprecated", category=MatplotlibDeprecationWarning)
            sns.boxplot(part, x="trained", y="accuracy", hue="model", palette=palette, ax=ax,
                        width=0.6, fliersize=0, linewidth=0.8, legend=False)
        sns.stripplot(part, x="trained", y="accuracy", color="black", ax=ax, size=1.5, jitter=0.15)
        ax.set_xticks([])
        ax.set_title(f"d = {d}")
        ax.set_xlabel("")
        ax.set_ylabel("")
    axes[0, 0].set_ylabel(f"1-NN test accuracy (%), {labels} labels")
    fig.supxlabel("trained model (one box each: its label draws)", fontsize=9)
    handles = [plt.Rectangle((0, 0), 1, 1, color=color) for color in palette.values()]
    axes[0, -1].legend(handles, list(palette), fontsize=8, loc="lower right")
    return fig
