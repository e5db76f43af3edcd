"""The follow-up compressed-VAE chapter: its Figure 1 on MNIST, the control it lacks, its
Figure 2 trade-off on Fashion-MNIST, and the ablations of its own design claims.

Everything reads the runs of ``followup_runs`` (training them when missing): ``figure1_runs``
(the n = 128 MNIST pair) and ``grid_runs`` (both models over latent dimensions and beta targets).
"""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from torchvision.utils import make_grid

from hvae_lib.experiments.followup_runs import (
    ABLATION_BASELINE,
    ABLATIONS,
    FIGURE1_BETA,
    MODELS,
    ablation_runs,
    classifier,
    figure1_runs,
    grid_runs,
    load_artifact,
    profile_settings,
)
from hvae_lib.plotting import COLORS, CYCLE, hammer_projection
from hvae_lib.results import results_dir
from hvae_lib.stats import holm, welch_p

MODEL_COLORS = {"standard": COLORS["normal"], "compressed": COLORS["vmf"]}
PAPER_KNN = {"standard": 0.95, "compressed": 0.88}
# The sampler the paper used for each model, and the fitted control applied to the standard VAE.
PAPER_SAMPLER = {"standard": "prior", "compressed": "vMF island (test, as in the paper)"}
GRID_ROWS = ("x", "reconstruction", "prior", "vMF island (train)", "vMF island (test, as in the paper)")
ROW_LABELS = {"x": "data", "reconstruction": "reconstruction", "prior": "prior sample",
              "vMF island (train)": "vMF island\n(fit on train)", "vMF island (test, as in the paper)": "vMF island\n(fit on test)"}


def _pm(values, digits: int = 2) -> str:
    values = pd.Series(values, dtype=float)
    if len(values) < 2:
        return f"{values.mean():.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def samples_figure(profile: str) -> plt.Figure:
    """Ten test digits, their reconstructions and decoded samples of each sampler, for the first
    run of each model."""
    runs = figure1_runs(profile)
    fig, axes = plt.subplots(len(GRID_ROWS), 2, figsize=(10, 1.05 * len(GRID_ROWS) + 0.4))
    for column, model in enumerate(MODELS):
        grids = load_artifact(profile, runs[runs["model"] == model]["key"].iloc[0], "grids")
        for row, name in enumerate(GRID_ROWS):
            images = grids[grids["row"] == name].drop(columns="row").to_numpy()
            strip = make_grid(torch.from_numpy(images).reshape(-1, 1, 28, 28), nrow=len(images), padding=2, pad_value=0)[0]
            ax = axes[row, column]
            ax.imshow(strip, cmap="gray_r", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if column == 0:
                ax.set_ylabel(ROW_LABELS[name], rotation=0, ha="right", va="center", fontsize=10)
        axes[0, column].set_title(f"{model} VAE (n = {int(runs['n'].iloc[0])})")
    return fig


def view3d_figure(profile: str) -> plt.Figure:
    """The paper's 3-D view (block averages of the codes, on S^2) in the Hammer projection,
    coloured by digit, for the first run of each model."""
    runs = figure1_runs(profile)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for ax, model in zip(axes, MODELS):
        view = load_artifact(profile, runs[runs["model"] == model]["key"].iloc[0], "view3d")
        x, y = hammer_projection(view[["x", "y", "z"]].to_numpy())
        for digit in range(10):
            keep = (view["label"] == digit).to_numpy()
            ax.scatter(x[keep], y[keep], s=3, color=CYCLE[digit % len(CYCLE)] if digit < 8 else ("#999999" if digit == 8 else "#8B4513"), label=str(digit))
        ax.set_title(f"{model} VAE")
        ax.set_xlim(-2.9, 2.9)
        ax.set_ylim(-1.45, 1.45)
        ax.set_aspect("equal")
        ax.set_xlabel("Hammer x of the 3-block average")
        ax.set_ylabel("Hammer y")
    axes[1].legend(title="digit", loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=3, fontsize=8)
    return fig


def tsne_figure(profile: str) -> plt.Figure:
    """t-SNE (perplexity 30, PCA initialisation) of the test codes of each model's first run."""
    runs = figure1_runs(profile)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, model in zip(axes, MODELS):
        embedded = load_artifact(profile, runs[runs["model"] == model]["key"].iloc[0], "tsne")
        for digit in range(10):
            keep = embedded["label"] == digit
            ax.scatter(embedded["x"][keep], embedded["y"][keep], s=2, color=CYCLE[digit] if digit < 8 else ("#999999" if digit == 8 else "#8B4513"), label=str(digit))
        ax.set_title(f"{model} VAE")
        ax.set_xlabel("t-SNE 1")
        ax.set_ylabel("t-SNE 2")
    axes[1].legend(title="digit", loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=4, fontsize=8)
    return fig


def knn_table(profile: str) -> pd.DataFrame:
    """k-NN test accuracy (%) on the codes, every training code labelled, mean ± sd over runs,
    next to the paper's (k unstated)."""
    runs = figure1_runs(profile)
    rows = []
    for model in MODELS:
        part = runs[runs["model"] == model]
        row = {"model": model, "runs": len(part)}
        for k in (1, 3, 5, 10):
            row[f"k = {k}"] = _pm(100 * part[f"knn_{k}"], 1)
        row["paper"] = f"{100 * PAPER_KNN[model]:.0f}"
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


def _samplers(runs: pd.DataFrame) -> list[str]:
    return [c.split(" | ", 1)[1] for c in runs.columns if c.startswith("fid | ")]


def control_table(profile: str) -> pd.DataFrame:
    """FID against real test images, the paper's self-FID and the classifier's label entropy of
    the samples (ln 10 = 2.30 for balanced classes), mean ± sd over runs, per model and sampler."""
    runs = figure1_runs(profile)
    rows = []
    for model in MODELS:
        part = runs[runs["model"] == model]
        for sampler in _samplers(part):
            if part[f"fid | {sampler}"].isna().all():
                continue
            rows.append({
                "model": model, "sampler": sampler, "used by the paper": "yes" if PAPER_SAMPLER[model] == sampler else "",
                "FID (real)": _pm(part[f"fid | {sampler}"], 1), "self-FID": _pm(part[f"self_fid | {sampler}"], 1),
                "label entropy": _pm(part[f"class_entropy | {sampler}"], 2),
            })
    return pd.DataFrame(rows).set_index(["model", "sampler"])


def control_tests(profile: str) -> pd.DataFrame:
    """The paper's comparison (compressed + its island vs standard + its prior) and the control
    (compressed + island vs standard + the same kind of island fitted on train), by FID against
    real images: difference of means, Welch's t-test over runs, Holm over the tests."""
    runs = figure1_runs(profile)
    standard, compressed = runs[runs["model"] == "standard"], runs[runs["model"] == "compressed"]
    reference = compressed[f"fid | {PAPER_SAMPLER['compressed']}"]
    comparisons = {
        "standard VAE, prior (the paper's comparison)": standard["fid | prior"],
        "standard VAE, vMF island fit on train": standard["fid | vMF island (train)"],
        "standard VAE, Gaussian island fit on train": standard["fid | Gaussian island (train)"],
        "compressed VAE, vMF island fit on train": compressed["fid | vMF island (train)"],
    }
    rows, pvalues = [], []
    for name, values in comparisons.items():
        difference = values.mean() - reference.mean()
        p = welch_p(values, reference)
        rows.append({"against compressed VAE + vMF island (test)": name, "FID difference": f"{difference:+.1f}", "p": p})
        pvalues.append(p)
    frame = pd.DataFrame(rows)
    finite = [p for p in pvalues if np.isfinite(p)]
    adjusted = iter(holm(finite)) if finite else iter(())
    frame["p (Holm)"] = [f"{next(adjusted):.3g}" if np.isfinite(p) else "one run" for p in pvalues]
    frame["p"] = [f"{p:.3g}" if np.isfinite(p) else "one run" for p in pvalues]
    return frame.set_index("against compressed VAE + vMF island (test)")


def control_verdict(profile: str) -> str:
    """Two findings in words, from the runs: the paper's own comparison (compressed VAE with its
    island against the standard VAE with its prior), and the control (the standard VAE with the
    best of the samplers fitted on its training codes)."""
    runs = figure1_runs(profile)
    standard, compressed = runs[runs["model"] == "standard"], runs[runs["model"] == "compressed"]
    fitted = [s for s in _samplers(standard) if "train" in s and standard[f"fid | {s}"].notna().all()]
    best = min(fitted, key=lambda s: standard[f"fid | {s}"].mean())
    prior, ours = standard["fid | prior"].mean(), standard[f"fid | {best}"].mean()
    island = compressed[f"fid | {PAPER_SAMPLER['compressed']}"].mean()
    budget = "the paper's protocol" if profile == "full" else (
        f"a reduced budget ({int(runs['epochs'].iloc[0])} epochs, MLP networks), not the paper's protocol")
    if island < prior:
        first = (f"The paper's comparison reproduces: the compressed VAE sampled from its island scores FID {island:.0f}, "
                 f"the standard VAE sampled from its prior {prior:.0f}.")
    else:
        first = (f"The paper's comparison does not reproduce: the compressed VAE sampled from its island scores FID "
                 f"{island:.0f}, worse than the standard VAE sampled from its own prior ({prior:.0f}).")
    sampled = f"Sampled from the {best.replace(' (train)', '')}, fitted to its training codes, the standard VAE scores {ours:.0f}"
    if ours <= island and island >= prior:
        second = (f"The control goes further. {sampled}, the best of every model and sampler here: the sample quality "
                  "comes from fitting the sampler to the codes, not from compressing the latent")
    elif ours <= island:
        second = (f"{sampled}, as good as or better than the compressed VAE: fitting the sampler alone gives what the "
                  "paper attributes to compressing the latent, so its explanation does not hold")
    else:
        second = (f"{sampled}, still behind the compressed VAE, so the control leaves the paper's explanation standing")
    return f"{first} {second}, under {budget}."


def collapse_note(profile: str) -> str:
    """The compressed codes' effective dimension and reconstruction error against the standard's."""
    runs = figure1_runs(profile)
    by = runs.groupby("model")
    ratio, mse = by["participation_ratio"].agg(["min", "max"]), by["mse_pixel"].mean()
    return (f"The compressed VAE's training codes use between {ratio.loc['compressed', 'min']:.1f} and "
            f"{ratio.loc['compressed', 'max']:.1f} directions (participation ratio over its runs; the standard VAE: "
            f"{ratio.loc['standard', 'min']:.1f} to {ratio.loc['standard', 'max']:.1f}), and it reconstructs the test set with "
            f"{mse['compressed'] / mse['standard']:.1f} times the standard VAE's squared error.")


def tradeoff_figure(profile: str, dataset: str = "fashion-mnist") -> plt.Figure:
    """Test reconstruction error against FID (real and self-FID) over latent dimensions, one line
    per (model, beta target), samples from each model's paper sampler; error bars where a cell
    has several runs."""
    runs = grid_runs(profile, dataset)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    for (model, beta), part in runs.groupby(["model", "beta_target"], sort=False):
        sampler = PAPER_SAMPLER[model]
        cells = part.groupby("n").agg(mse=("mse_pixel", "mean"), fid=(f"fid | {sampler}", "mean"),
                                      fid_sd=(f"fid | {sampler}", "std"), self_fid=(f"self_fid | {sampler}", "mean"),
                                      self_sd=(f"self_fid | {sampler}", "std"))
        style = "-" if model == "compressed" else "--"
        shade = 1.0 if beta == max(part_beta for part_beta in runs[runs["model"] == model]["beta_target"]) else 0.55
        for ax, value, spread in ((axes[0], "fid", "fid_sd"), (axes[1], "self_fid", "self_sd")):
            ax.errorbar(1000 * cells["mse"], cells[value], yerr=cells[spread].fillna(0), linestyle=style, marker="o",
                        color=MODEL_COLORS[model], alpha=shade, capsize=2, label=f"{model}, β target {beta:g}")
            for n, point in cells.iterrows():
                ax.annotate(str(n), (1000 * point["mse"], point[value]), textcoords="offset points", xytext=(3, 3), fontsize=7)
    axes[0].set_ylabel("FID against real test images")
    axes[1].set_ylabel("self-FID (against reconstructions)")
    for ax in axes:
        ax.set_xlabel("test MSE per pixel (× 1e-3)")
        ax.set_yscale("log")
    axes[0].legend(fontsize=8)
    return fig


def tradeoff_table(profile: str, dataset: str = "fashion-mnist") -> pd.DataFrame:
    """Per (model, beta target, n): runs, MSE, RMSE %, FID and self-FID of the paper's sampler."""
    runs = grid_runs(profile, dataset)
    rows = []
    for (model, beta, n), part in runs.groupby(["model", "beta_target", "n"], sort=False):
        sampler = PAPER_SAMPLER[model]
        rows.append({"model": model, "β target": f"{beta:g}", "n": n, "runs": len(part),
                     "MSE (× 1e-3)": _pm(1000 * part["mse_pixel"], 1), "RMSE (%)": _pm(part["rmse_percent"], 1),
                     "FID": _pm(part[f"fid | {sampler}"], 1), "self-FID": _pm(part[f"self_fid | {sampler}"], 1)})
    return pd.DataFrame(rows).set_index(["model", "β target", "n"])


def effective_dimension_table(profile: str, dataset: str = "fashion-mnist") -> pd.DataFrame:
    """Participation ratio and active units of the training codes, per model and n, at each
    model's figure beta."""
    runs = grid_runs(profile, dataset)
    rows = []
    for model in MODELS:
        part = runs[(runs["model"] == model) & (runs["beta_target"] == FIGURE1_BETA[model])]
        for n, cell in part.groupby("n"):
            rows.append({"model": model, "n": n, "participation ratio": _pm(cell["participation_ratio"], 1),
                         "active units": _pm(cell["active_units"], 0)})
    return pd.DataFrame(rows).pivot(index="n", columns="model").swaplevel(axis=1).sort_index(axis=1)


def classifier_table(profile: str) -> pd.DataFrame:
    """Test accuracy (%) of the FID feature classifier of each data set."""
    return pd.DataFrame([{"data set": name, "test accuracy (%)": f"{100 * classifier(name, profile)[1]:.1f}"}
                         for name in ("mnist", "fashion-mnist")]).set_index("data set")


def overhead_table() -> pd.DataFrame | None:
    """The committed cost benchmark (``benchmarks/followup.py``): seconds per 60k-image epoch of
    each method and the compressed loss's overhead over the standard step, per n; None if the
    benchmark has not run."""
    path = results_dir() / "benchmarks" / "followup" / "cpu.csv"
    if not path.exists():
        return None
    wide = pd.read_csv(path).pivot(index="n", columns="method", values="seconds_per_epoch")
    table = pd.DataFrame({"standard (s / epoch)": wide["standard"].map("{:.1f}".format)}, index=wide.index)
    for method, label in (("compressed (suffix)", "O(n) cosines"), ("compressed (masked)", "authors' O(n²) mask")):
        table[f"{label} (s / epoch)"] = wide[method].map("{:.1f}".format)
        table[f"{label} overhead"] = ((wide[method] / wide["standard"] - 1) * 100).map("{:+.0f}%".format)
    return table


def overhead_meta() -> dict | None:
    """Device, date and settings of the cost benchmark."""
    path = results_dir() / "benchmarks" / "followup" / "cpu.json"
    return json.loads(path.read_text()) if path.exists() else None


def settings_note(profile: str) -> str:
    """The budget of the profile, in words."""
    s = profile_settings(profile)
    return (f"{s.architecture.upper()} networks; MNIST pair: {s.figure1_epochs} epochs, seeds {list(s.figure1_seeds)}; "
            f"Fashion-MNIST grid: {s.grid_epochs} epochs, n in {list(s.grid_dims)}; annealing over the first "
            f"{'100' if profile == 'full' else 'third of the'} epochs; {s.samples} samples per FID.")


def _ablation_frame(profile: str) -> pd.DataFrame:
    """One row per (claim, variant): runs, the formatted metrics, and the FID difference from
    the baseline with its Welch and Holm p-values (NaN where untested)."""
    runs = ablation_runs(profile)
    fid = f"fid | {PAPER_SAMPLER['compressed']}"
    base = runs[runs["variant"] == ABLATION_BASELINE]
    rows = []
    for (claim, variant), part in runs.groupby(["claim", "variant"], sort=False):
        baseline = variant == ABLATION_BASELINE
        rows.append({
            "claim": claim, "variant": variant, "runs": len(part),
            "FID": _pm(part[fid], 0), "MSE": _pm(part["mse_pixel"], 4), "1-NN (%)": _pm(100 * part["knn_1"], 1),
            "difference": np.nan if baseline else part[fid].mean() - base[fid].mean(),
            "p": np.nan if baseline else welch_p(part[fid], base[fid]),
        })
    frame = pd.DataFrame(rows)
    return frame.assign(q=holm(frame["p"].to_numpy()))


def ablation_table(profile: str) -> pd.DataFrame:
    """Per claim (by its code, C9 ...) and variant of ``followup_runs.ABLATIONS``: FID against
    real images with the paper's sampler (the island fitted on test codes), test reconstruction
    MSE per pixel and 1-NN accuracy, mean ± sd over runs; the FID change from the baseline with
    Welch's p over runs, Holm-corrected over the table ("one run" where a variant cannot be
    tested)."""
    frame = _ablation_frame(profile)
    untested = np.where(frame["variant"] == ABLATION_BASELINE, "", "one run")
    shown = lambda values: [f"{v:.2g}" if np.isfinite(v) else blank for v, blank in zip(values, untested)]
    table = frame.assign(**{"FID change": ["" if np.isnan(v) else f"{v:+.0f}" for v in frame["difference"]],
                            "p": shown(frame["p"]), "p (Holm)": shown(frame["q"])})
    columns = ["claim", "variant", "runs", "FID", "MSE", "1-NN (%)", "FID change", "p", "p (Holm)"]
    return table[columns].set_index(["claim", "variant"])


def ablation_verdicts(profile: str) -> pd.DataFrame:
    """Each design claim's verdict by FID with the paper's sampler: it holds where every variant
    is significantly worse than the baseline (Holm, 0.05), is reversed where one is
    significantly better, is not significant otherwise, and untested with one run per variant;
    under a reduced budget the words say so."""
    frame = _ablation_frame(profile)
    final = profile == "full"
    rows = []
    for claim, (text, variants) in ABLATIONS.items():
        part = frame[frame["claim"] == claim]
        q, worse = part["q"].to_numpy(), part["difference"].to_numpy() > 0
        if np.isnan(q).any():
            verdict = "untested (one run per variant)"
        elif ((q < 0.05) & ~worse).any():
            verdict = "refuted" if final else "reversed (reduced budget)"
        elif (q < 0.05).all() and worse.all():
            verdict = "confirmed" if final else "holds (reduced budget)"
        else:
            verdict = "not significant"
        rows.append({"claim": f"{claim}: {text}", "variants": ", ".join(variants), "verdict": verdict})
    return pd.DataFrame(rows).set_index("claim")
