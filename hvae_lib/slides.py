"""The 7-minute talk: a 16:9 PDF deck and its figures, made from committed results.

Every slide is a matplotlib page of exactly 1920 x 1080 pixels (13.333 x 7.5 inches at 144 dpi):
text, a figure and the numbers on it all come from ``results/`` through the chapters' own
functions, so nothing is typed by hand and nothing is retrained. A slide whose chapter has no
results yet says "pending", and the deck still builds. Matplotlib is the tool because the book
already draws with it, it writes PDF offline, and it needs nothing beyond the project's setup.

    python -m hvae_lib.slides [--profile cpu] [--out _build/slides]

writes ``talk.pdf`` and ``figures/<name>.{png,pdf,svg}`` (1920 x 1080 each).
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.patches import Patch

from hvae_lib.plotting import COLORS, use_style
from hvae_lib.results import RunStore

SIZE_IN = (1920 / 144, 1080 / 144)
DPI = 144
FORMATS = ("png", "pdf", "svg")


def _page(title: str) -> tuple[plt.Figure, plt.Axes]:
    """A blank 16:9 page with a title; returns the figure and a full-page axes for text."""
    fig = plt.figure(figsize=SIZE_IN, dpi=DPI)
    fig.set_layout_engine("none")
    fig.text(0.05, 0.92, title, fontsize=30, weight="bold", va="top")
    return fig, fig.add_axes((0, 0, 1, 1), frameon=False, xticks=[], yticks=[])


def _bullets(fig: plt.Figure, lines: list[str], top: float = 0.78, left: float = 0.06, size: int = 20,
             width: int = 100, bullet: str = "•  ") -> None:
    """Each line wrapped at ``width`` characters, stacked down the page from ``top``; a line's
    height follows its font ``size`` (points on the 7.5-inch page, 1.25 leading)."""
    height = 1.25 * size / 72 / SIZE_IN[1]
    for line in lines:
        wrapped = textwrap.wrap(line, width)
        fig.text(left, top, bullet + ("\n" + " " * len(bullet)).join(wrapped), fontsize=size, va="top")
        top -= height * len(wrapped) + 0.03


def _pending(fig: plt.Figure, what: str) -> None:
    fig.text(0.5, 0.45, f"pending: {what}", fontsize=26, ha="center", color="0.45", style="italic")


def _profile_of(experiment: str, wanted: str) -> str | None:
    """``wanted`` if that profile has stored runs of ``experiment``, else the richest that has."""
    for profile in (wanted, "full", "cpu", "smoke"):
        if RunStore(experiment, profile).records():
            return profile
    return None


def slide_question(profile: str) -> plt.Figure:
    fig, _ = _page("Does a hyperspherical latent space help a VAE?")
    _bullets(fig, [
        "Davidson et al. (UAI 2018): replace the Gaussian posterior and prior by a von Mises-Fisher "
        "posterior and a uniform prior on the sphere S^d.",
        "Claim: better log-likelihood for small d (d ≤ 10), worse for d ≥ 20.",
        "This talk: can the results be reproduced, and under which hidden conditions?",
    ])
    fig.text(0.06, 0.1, "Figures and numbers: the executable book, regenerated from its cached runs.", fontsize=14, color="0.4")
    return fig


def slide_vmf(profile: str) -> plt.Figure:
    from hvae_lib.experiments.vmf_chapter import sphere_samples_figure

    fig, _ = _page("The von Mises-Fisher distribution in one picture")
    panel = sphere_samples_figure("smoke" if profile == "smoke" else "cpu")
    _embed(fig, panel, (0.04, 0.25, 0.92, 0.55))
    fig.text(0.06, 0.16, "q(z | μ, κ) ∝ exp(κ μᵀz) on the sphere S²: κ = 0 is uniform,", fontsize=18)
    fig.text(0.06, 0.1, "a large κ concentrates the samples around μ (+). Hammer equal-area projection.", fontsize=18)
    return fig


def slide_figure1(profile: str) -> plt.Figure:
    from hvae_lib.experiments import figure1

    fig, _ = _page("Figure 1: a circle through three latent spaces")
    used = _profile_of("figure1", profile)
    if used is None:
        _pending(fig, "Figure 1 runs")
        return fig
    panel = figure1.figure1(used, figure1.figure1_runs(used))
    _embed(fig, panel, (0.2, 0.03, 0.6, 0.82))
    fig.text(0.02, 0.5, f"profile {used}", fontsize=13, color="0.4", rotation=90, va="center")
    return fig


def slide_table1(profile: str) -> plt.Figure:
    from hvae_lib.experiments import conclusions, table1

    fig, _ = _page("Table 1: test log-likelihood, N-VAE vs S-VAE")
    used = _profile_of("table1", profile)
    if used is None:
        _pending(fig, "Table 1 runs")
        return fig
    runs = _chapter_runs(table1, used)
    if runs.empty:
        _pending(fig, f"Table 1 runs of the {used} protocol")
        return fig
    full = _chapter_runs(table1, "full") if used != "full" else runs.iloc[:0]
    ax = fig.add_axes((0.08, 0.14, 0.5, 0.66))
    for model, latent in table1.MODELS.items():
        ours = runs[runs["model"] == model].groupby("d")["LL"].agg(["mean", "std"])
        ax.errorbar(ours.index, ours["mean"], yerr=ours["std"], color=COLORS[latent], marker="o", capsize=4, lw=2, alpha=0.5 if len(full) else 1,
                    label=f"{model} (ours, {used} budget)")
        protocol = full[full["model"] == model].groupby("d")["LL"].agg(["mean", "std"])
        if len(protocol):
            ax.errorbar(protocol.index, protocol["mean"], yerr=protocol["std"], color=COLORS[latent], marker="D", ms=9, capsize=4, lw=0,
                        elinewidth=2, label=f"{model} (ours, paper's protocol)")
        paper = table1.PAPER.xs(model, level="model")["LL"]
        ax.plot(paper.index, paper.values, color=COLORS[latent], ls="--", marker="x", label=f"{model} (paper)")
    ax.set_xscale("log")
    ax.set_xticks(list(table1.PAPER.index.get_level_values("d").unique()), [str(d) for d in table1.PAPER.index.get_level_values("d").unique()])
    ax.minorticks_off()
    ax.set_xlabel("latent dimension d")
    ax.set_ylabel("test LL (nats)")
    ax.legend(fontsize=11)
    claims = conclusions.table1_conclusions(profile)
    claims = claims[claims["claim"].str.endswith("LL")]
    fig.text(0.62, 0.8, "the paper's LL claim at each d:", fontsize=15, va="top")
    lines = [
        f"{row.claim.removeprefix('Table 1, ').replace(' has the better LL', ' better')}: {row.verdict.replace(' (reduced budget)', '*')} "
        f"({row.runs.replace(' runs', '')})"
        for row in claims.itertuples()
    ]
    for i, line in enumerate(lines):
        fig.text(0.62, 0.73 - i * 0.06, line, fontsize=15, va="top")
    note = "Welch tests, Holm-corrected; in brackets the runs (N + S) of the protocol's count."
    if (claims["protocol"] != "the paper's").any():
        note += f" *: under the reduced {used} budget, not the paper's protocol."
    fig.text(0.62, 0.73 - len(lines) * 0.06 - 0.02, "\n".join(textwrap.wrap(note, 60)), fontsize=12, color="0.4", va="top")
    return fig


def _chapter_runs(table1, profile: str) -> pd.DataFrame:
    """The stored Table 1 runs of ``profile`` that its chapter shows (the profile's own seeds)."""
    runs = table1.stored_runs(profile)
    return runs[runs["run"] < table1.PROFILES[profile].runs]


def slide_table3(profile: str) -> plt.Figure:
    from hvae_lib.experiments import table3

    fig, _ = _page("Table 3: is S+N the best M1+M2 pairing? (100 labels)")
    used = _profile_of("table3", profile)
    runs = table3.stored_runs(used) if used is not None else pd.DataFrame()
    grid = runs[runs["configuration"] != table3.ANCHOR] if not runs.empty else runs
    if grid.empty:
        _pending(fig, "Table 3 runs")
        return fig
    colours = dict(zip(table3.PAPER.columns, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    z1s, width = table3.PROFILES[used].z1s, 0.26
    axes = [fig.add_axes((0.07 + i * 0.19, 0.16, 0.17, 0.6)) for i in range(len(z1s))]
    for ax, z1 in zip(axes, z1s):
        z2s = table3.PROFILES[used].z2s
        for j, configuration in enumerate(table3.PAPER.columns):
            x = np.arange(len(z2s)) + (j - 1) * width
            cells = [grid[(grid["configuration"] == configuration) & (grid["z1"] == z1) & (grid["z2"] == z2)]["test accuracy"] for z2 in z2s]
            ax.bar(x, [c.mean() if len(c) else 0 for c in cells], width, yerr=[c.std() if len(c) > 1 else 0 for c in cells],
                   color=colours[configuration], capsize=3, label=f"{configuration} (ours)")
            ax.plot(x, [table3.PAPER.loc[(z1, z2), configuration] for z2 in z2s], ls="", marker="_", ms=16, mew=3, color="black", gid="paper",
                    label="the paper" if j == 0 else None)
        ax.set_xticks(np.arange(len(z2s)), [str(z2) for z2 in z2s])
        ax.set_xlabel("z2")
        ax.set_title(f"z1 = {z1}", fontsize=16)
        ax.set_ylim(min(50, 10 * (grid["test accuracy"].min() // 10)), 100)
        if ax is not axes[0]:
            ax.tick_params(labelleft=False)
    axes[0].set_ylabel("final test accuracy (%)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower left", bbox_to_anchor=(0.66, 0.16), fontsize=14, frameon=False)
    tests = table3.best_pairing_tests(used, grid)
    lines = [f"Ours: mean ± sd over {table3.PROFILES[used].runs} runs per cell after "
             f"{table3.PROFILES[used].schedule.epochs} M2 epochs ({used} profile; the paper's protocol trains about "
             f"{table3.PROFILES['full'].schedule.epochs})."]
    if "verdict" in tests:
        counts = tests["verdict"].value_counts()
        lines.append(f"S+N against N+N and S+S, {len(tests)} Welch tests, Holm: " + ", ".join(f"{n} {v}" for v, n in counts.items()) + ".")
    anchor = runs.loc[runs["configuration"] == table3.ANCHOR]
    if len(anchor):
        lines.append(f"Kingma's own M1+M2 here: {anchor['test accuracy'].mean():.1f}% after {int(anchor['epochs'].iloc[0])} M2 epochs "
                     f"(his {table3.KINGMA_ACCURACY[0]:.2f}% after 3000).")
    _bullets(fig, lines, top=0.8, left=0.66, size=15, width=35)
    return fig


def slide_low_data(profile: str) -> plt.Figure:
    from hvae_lib.experiments import critique_low_data as low

    fig, _ = _page("Critique: reversals come from code, not low data")
    if not RunStore("table1", low._source(profile)[0]).records():
        _pending(fig, "the low-data runs")
        return fig
    cells = low.reversal_cells(profile)
    if cells.empty:
        _pending(fig, "the low-data runs")
        return fig
    d = int(cells["d"].min())
    cells = cells[cells["d"] == d]
    earlier = (low.EARLIER_TABLE2["S-VAE"] - low.EARLIER_TABLE2["N-VAE"]).xs(d, level="d")
    difference = cells.pivot(index="setting", columns="labels", values="difference").loc[list(dict.fromkeys(cells["setting"]))]
    significant = cells.pivot(index="setting", columns="labels", values="p (Holm)").loc[difference.index] < 0.05
    published = "earlier reproduction (published)"
    difference.loc[published] = [earlier.get(n, np.nan) for n in difference.columns]
    significant.loc[published] = False
    difference, significant = difference.loc[[published, *difference.index[:-1]]], significant.loc[[published, *significant.index[:-1]]]
    labels = list(difference.columns)
    shades = [0.35 + 0.65 * (j + 1) / len(labels) for j in range(len(labels))]
    colors = ["0.55"] + [COLORS["vmf"]] * (len(difference) - 1)
    ax = fig.add_axes((0.07, 0.3, 0.6, 0.5))
    width = 0.8 / len(labels)
    for j, n in enumerate(labels):
        x = np.arange(len(difference)) + (j - (len(labels) - 1) / 2) * width
        ax.bar(x, difference[n], width, color=colors, alpha=shades[j])
        for xi, v in zip(x[significant[n].to_numpy()], difference.loc[significant[n], n]):
            ax.text(xi, v - 0.6, "*", ha="center", va="top", fontsize=18)
    ax.axhline(0, color="0.3", lw=1)
    ax.set_xticks(range(len(difference)), [s.replace(" (", "\n(") for s in difference.index], rotation=35, ha="right", fontsize=11)
    ax.set_ylabel(f"S − N 1-NN accuracy, d = {d} (points)")
    ax.legend([Patch(color=COLORS["vmf"], alpha=a) for a in shades], [f"{n} labels" for n in labels], fontsize=12, loc="upper right", ncol=len(labels))
    ax.set_ylim(top=max(6.0, ax.get_ylim()[1] + 2))
    _bullets(fig, [
        "On a tenth of MNIST, as the earlier reproduction, with Table 1's protocol. Each bar: one of its settings alone "
        "(*: the N-VAE better, Holm p < 0.05); grey: its published differences.",
        low.collapse_finding(profile),
    ], top=0.78, left=0.7, size=14, width=40, bullet="")
    return fig


def slide_variance(profile: str) -> plt.Figure:
    from hvae_lib.experiments import critique_variance as variance

    fig, _ = _page("Critique: the paper's ± and what its runs support")
    support = variance.paper_support()
    lines = []
    if not support.empty:
        held = support["supported"].eq("yes")
        lines.append(f"With its own sd and 10 runs, the paper's differences are significant in {int(held.sum())} of {len(support)} "
                     "comparisons (Welch, Holm); not: " + ", ".join(f"{t} {c}" for t, c in support.index[~held]) + ".")
    used = _profile_of("table4_randomness", profile)
    if used is not None:
        lines.append("What are the paper's ±? " + variance.plus_minus_verdict(used).replace("**", ""))
    lines.append("Table 4's runs share their edge split: a paired test is the right one, and it gives other p-values than Welch's.")
    _bullets(fig, lines, size=19, width=88)
    return fig


def slide_table4(profile: str) -> plt.Figure:
    from hvae_lib.experiments import table4

    fig, _ = _page("Table 4: link prediction on citation graphs")
    used = _profile_of("table4", profile)
    if used is None:
        _pending(fig, "Table 4 runs")
        return fig
    runs = RunStore("table4", used).frame()
    ax = fig.add_axes((0.08, 0.14, 0.84, 0.64))
    datasets = [d for d in ("Cora", "CiteSeer", "PubMed") if d in set(runs["dataset"])]
    width = 0.2
    for j, (model, latent) in enumerate((("N-VGAE", "normal"), ("S-VGAE", "vmf"))):
        for k, metric in enumerate(("AUC", "AP")):
            stats = [runs[(runs["dataset"] == d) & (runs["model"] == model)][metric].agg(["mean", "std"]) for d in datasets]
            x = np.arange(len(datasets)) + (2 * j + k - 1.5) * width
            ax.bar(x, [s["mean"] for s in stats], width, yerr=[s["std"] for s in stats], color=COLORS[latent], alpha=1 if k == 0 else 0.55, capsize=4, label=f"{model} {metric}")
    paper = table4.PAPER.set_index(["dataset", "model"])
    for i, d in enumerate(datasets):
        for j, model in enumerate(("N-VGAE", "S-VGAE")):
            if (d, model) in paper.index:
                for k, metric in enumerate(("AUC", "AP")):
                    ax.plot(i + (2 * j + k - 1.5) * width, paper.loc[(d, model), metric], marker="_", ms=28, mew=3, color="black")
    ax.set_xticks(np.arange(len(datasets)), datasets)
    ax.set_ylim(80, 100)
    ax.set_ylabel("test AUC / AP (%)")
    ax.legend(ncol=4, fontsize=12, loc="upper left")
    fig.text(0.08, 0.06, f"bars: ours, mean ± sd over runs ({used}); black marks: the paper", fontsize=13, color="0.4")
    return fig


def slide_followup(profile: str) -> plt.Figure:
    from hvae_lib.experiments.followup_runs import FIGURE1_BETA, MODELS, profile_settings

    fig, _ = _page("The follow-up: compress the latent, or just fit the sampler?")
    used = _profile_of("followup", profile)
    if used is None:
        _pending(fig, "the follow-up paper's runs")
        return fig
    settings = profile_settings(used)
    runs = RunStore("followup", used).frame()
    runs = runs[(runs["dataset"] == "mnist") & (runs["n"] == settings.figure1_n) & (runs["epochs"] == settings.figure1_epochs)
                & (runs["beta_target"] == runs["model"].map(FIGURE1_BETA))]
    if set(runs["model"]) != set(MODELS):
        _pending(fig, "the follow-up paper's MNIST runs")
        return fig
    bars = [("standard", "prior", "standard VAE\nits prior (paper)"),
            ("standard", "Gaussian island (train)", "standard VAE\nGaussian fit (train)"),
            ("standard", "vMF island (train)", "standard VAE\nvMF fit (train)"),
            ("compressed", "vMF island (train)", "compressed VAE\nvMF fit (train)"),
            ("compressed", "vMF island (test, as in the paper)", "compressed VAE\nvMF fit (test, paper)")]
    ax = fig.add_axes((0.08, 0.16, 0.56, 0.62))
    for i, (model, sampler, label) in enumerate(bars):
        values = runs[runs["model"] == model][f"fid | {sampler}"]
        ax.bar(i, values.mean(), yerr=values.std() if len(values) > 1 else 0, capsize=5,
               color=COLORS["normal" if model == "standard" else "vmf"], alpha=1.0 if "paper" in label else 0.6)
    ax.set_xticks(range(len(bars)), [label for *_, label in bars], fontsize=11)
    ax.set_ylabel("FID against real MNIST test images (lower is better)")
    knn = runs.groupby("model")["knn_1"].mean()
    lines = [f"MNIST, n = {settings.figure1_n}, {len(runs) // 2} runs per model ({used} profile)",
             f"1-NN on the codes: standard {100 * knn['standard']:.1f}%, compressed {100 * knn['compressed']:.1f}% (paper: 95 / 88)"]
    for i, line in enumerate(lines):
        fig.text(0.67, 0.72 - i * 0.12, line, fontsize=15, va="top", wrap=True)
    return fig


def slide_conclusions(profile: str) -> plt.Figure:
    from hvae_lib.experiments import conclusions

    fig, _ = _page("Conclusions")
    lines = ["The vMF machinery is exact and fast: Bessel functions to 1e-14, no NaN from κ = 0 to 1e8."]
    if _profile_of("table1", profile) is not None:
        lines += [line.removeprefix("- ").replace("**", "") for line in conclusions.summary(profile).splitlines()]
    lines += _unfinished(profile)
    _bullets(fig, lines, top=0.8, size=17)
    return fig


def _unfinished(profile: str) -> list[str]:
    """What the verdicts above do not yet rest on: Table 1 cells short of the protocol's runs,
    and Table 3 where its runs come from a reduced budget."""
    from hvae_lib.experiments import table1, table3

    lines = ["'Confirmed' and 'refuted' are said only under the paper's protocol."]
    counts, runs = table1.full_protocol_counts(), table1.PROFILES["full"].runs
    short = [(model, d, n) for model, row in counts.iterrows() for d, n in row.items() if n < runs]
    if short:
        groups: dict[int, dict[str, list[int]]] = {}
        for model, d, n in short:
            groups.setdefault(n, {}).setdefault(model, []).append(d)
        lines.append("Table 1 under the paper's protocol so far: " + "; ".join(
            " and ".join(f"{model} at d = {', '.join(map(str, dims))}" for model, dims in models.items())
            + f" {'have' if sum(map(len, models.values())) > 1 else 'has'} {n} of {runs} runs"
            for n, models in sorted(groups.items(), reverse=True)) + ".")
    used = _profile_of("table3", profile)
    if used is not None and used != "full":
        setup = table3.PROFILES
        lines.append(f"Table 3 ran under a reduced budget ({setup[used].schedule.epochs} of about {setup['full'].schedule.epochs} M2 epochs).")
    return lines


SLIDES: list[tuple[str, Callable[[str], plt.Figure]]] = [
    ("01_question", slide_question),
    ("02_vmf", slide_vmf),
    ("03_figure1", slide_figure1),
    ("04_table1", slide_table1),
    ("05_low_data", slide_low_data),
    ("06_variance", slide_variance),
    ("07_table4", slide_table4),
    ("08_table3", slide_table3),
    ("09_followup", slide_followup),
    ("10_conclusions", slide_conclusions),
]


def _embed(page: plt.Figure, panel: plt.Figure, rect: tuple[float, float, float, float]) -> None:
    """Draw ``panel`` as an image inside ``rect`` (figure fractions) of ``page``, keeping its aspect."""
    panel.set_dpi(DPI)
    panel.canvas.draw()
    image = np.asarray(panel.canvas.buffer_rgba())
    plt.close(panel)
    ax = page.add_axes(rect, frameon=False, xticks=[], yticks=[])
    ax.imshow(image, interpolation="lanczos")
    ax.set_anchor("C")


def build(profile: str, out: Path) -> Path:
    """Write the deck ``out/talk.pdf`` and every slide as ``out/figures/<name>.{png,pdf,svg}``."""
    use_style()
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    deck = out / "talk.pdf"
    with mpl.rc_context({"savefig.bbox": "standard"}), PdfPages(deck, metadata={"CreationDate": None}) as pdf:
        for name, make in SLIDES:
            fig = make(profile)
            fig.set_size_inches(*SIZE_IN)
            for fmt in FORMATS:
                fig.savefig(figures / f"{name}.{fmt}", dpi=DPI, metadata={"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt, {}))
            pdf.savefig(fig, dpi=DPI)
            plt.close(fig)
    return deck


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu", choices=("smoke", "cpu", "full"))
    parser.add_argument("--out", type=Path, default=Path("_build/slides"))
    args = parser.parse_args(argv)
    print(f"deck: {build(args.profile, args.out)}")


if __name__ == "__main__":
    main()
