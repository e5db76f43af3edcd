"""The critique's variance chapter: how many runs each claim needs, and what the paper's ± mean.

For every cell of Tables 1, 2 and 4 that compares the S-VAE with the N-VAE:

- the sd over runs of each family, the S - N difference with a 95% bootstrap interval, and the
  test the design calls for: Welch's t-test for Tables 1 and 2 (independent models; in Table 2
  each model's accuracy is its mean over the 20 label draws both families share), the paired
  t-test for Table 4 (run i of both models shares edge split i); Holm's correction within each
  table; win counts;
- the runs per family needed to detect the paper's difference with 80% power at alpha = 0.05,
  given our sd (``hvae_lib.stats.runs_for_power``), and whether the paper's own 10 runs, with its
  own means and ±, could have supported the claim (Welch's test from its summary statistics);
- for Table 4, whose ± are a tenth of ours, the sd under designs with fewer sources of
  randomness (``randomness_designs``) and the standard error, against the paper's ±.

Table 1 and 2 cells are read from the models of ``MODEL_PROFILE[profile]`` (the paper's
protocol under ``cpu`` and ``full``), Table 4 from the profile's own runs (its ``cpu`` profile
is the paper's protocol on Cora and CiteSeer).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from hvae_lib.experiments import table1, table2, table4
from hvae_lib.experiments.critique_audit import MODEL_PROFILE, table1_models
from hvae_lib.experiments.randomness_designs import DESIGNS, design_runs
from hvae_lib.stats import bootstrap_mean_difference, format_p, holm, paired_t_p, runs_for_power, welch_p

PAPER_RUNS = 10


def _pooled_sd(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2))


def _compare(s: np.ndarray, n: np.ndarray, paired: bool, paper_difference: float) -> dict:
    """The columns shared by every table: sds, S - N, its interval, p, wins, runs needed."""
    difference = float(s.mean() - n.mean())
    low, high = bootstrap_mean_difference(s, n, paired=paired)
    if paired:
        p = paired_t_p(s, n)
        sd = float(np.std(s - n, ddof=1))
        wins = f"{int((s > n).sum())} of {len(s)}"
    else:
        p = welch_p(s, n)
        sd = _pooled_sd(s, n)
        wins = f"{(s[:, None] > n[None, :]).mean():.0%} of pairs"
    needed = runs_for_power(paper_difference / sd, paired=paired) if sd > 0 else None
    return {
        "runs": f"{len(n)} + {len(s)}" if not paired else f"{len(s)} pairs",
        "sd N": f"{np.std(n, ddof=1):.2f}", "sd S": f"{np.std(s, ddof=1):.2f}",
        "S − N": f"{difference:+.2f}", "95% interval": f"[{low:+.2f}, {high:+.2f}]",
        "p": p, "S wins": wins,
        "paper S − N": f"{paper_difference:+.2f}",
        "runs for 80% power": "never" if needed is None else str(needed),
    }


def _finish(rows: list[dict], index: list[str]) -> pd.DataFrame:
    table = pd.DataFrame(rows)
    table["p (Holm)"] = holm(table["p"].to_numpy())
    for column in ("p", "p (Holm)"):
        table[column] = table[column].map(format_p)
    order = [*index, "runs", "sd N", "sd S", "S − N", "95% interval", "S wins", "p", "p (Holm)", "paper S − N", "runs for 80% power"]
    return table[order + [c for c in table.columns if c not in order]].set_index(index)


def table1_cells(profile: str, metrics: tuple[str, ...] = ("LL", "RE")) -> pd.DataFrame:
    """Table 1's comparisons (LL and RE at every d with at least 2 runs of both families)."""
    runs = table1_models(profile)
    rows = []
    for d, group in (runs.groupby("d") if not runs.empty else ()):
        for metric in metrics:
            s = group.loc[group["model"] == "S-VAE", metric].to_numpy()
            n = group.loc[group["model"] == "N-VAE", metric].to_numpy()
            if min(len(s), len(n)) < 2:
                continue
            paper = table1.PAPER.loc[("S-VAE", d), metric] - table1.PAPER.loc[("N-VAE", d), metric]
            rows.append({"d": int(d), "metric": metric, **_compare(s, n, False, paper)})
    return _finish(rows, ["d", "metric"]) if rows else _none("d", "metric")


def table2_cells(profile: str) -> pd.DataFrame:
    """Table 2's comparisons: 1-NN accuracy per (d, labels), one value per trained model (its
    mean over the shared label draws)."""
    source = MODEL_PROFILE[profile]
    knn = table2.table2_runs(source, train=False) if not table1_models(profile).empty else pd.DataFrame()
    if knn.empty:
        return _none("d", "labels")
    data = table2._headline(knn)
    rows = []
    for (d, labels), cell in data.groupby(["d", "labels"]):
        means = {m: cell[cell["model"] == m].groupby("run")["accuracy"].mean().to_numpy() for m in table1.MODELS}
        if min(map(len, means.values())) < 2:
            continue
        column = lambda m: f"{m[0]} {labels}"
        paper = table2.PAPER.loc[d, column("S-VAE")] - table2.PAPER.loc[d, column("N-VAE")] if d in table2.PAPER.index else np.nan
        rows.append({"d": int(d), "labels": int(labels), **_compare(means["S-VAE"], means["N-VAE"], False, paper)})
    return _finish(rows, ["d", "labels"]) if rows else _none("d", "labels")


def table4_cells(profile: str) -> pd.DataFrame:
    """Table 4's comparisons, paired by edge split, per (dataset, metric)."""
    runs = table4.table4_runs(profile)
    rows = []
    for dataset in runs["dataset"].unique():
        for metric in ("AUC", "AP"):
            pairs = table4._pairs(runs, dataset, metric)
            if len(pairs) < 2:
                continue
            paper = table4.PAPER.set_index(["model", "dataset"])
            difference = paper.loc[("S-VGAE", dataset), metric] - paper.loc[("N-VGAE", dataset), metric]
            rows.append({"dataset": dataset, "metric": metric, **_compare(pairs["S-VGAE"].to_numpy(), pairs["N-VGAE"].to_numpy(), True, difference)})
    return _finish(rows, ["dataset", "metric"]) if rows else _none("dataset", "metric")


def _none(*index: str) -> pd.DataFrame:
    return pd.DataFrame({**{name: ["all"] for name in index}, "measured": ["no stored runs yet"]}).set_index(list(index))


def paper_support() -> pd.DataFrame:
    """Could the paper's own runs have supported its claims? Welch's t-test from the paper's
    means and ± (read as sds over 10 runs) for every Table 1 and Table 4 comparison, Holm within
    each table. Table 2 reports no ±, so it cannot be tested."""
    rows = []
    for d in sorted(table1.PAPER.index.get_level_values("d").unique()):
        for metric in ("LL", "RE"):
            s, n = table1.PAPER.loc[("S-VAE", d)], table1.PAPER.loc[("N-VAE", d)]
            rows.append(_from_stats("Table 1", f"d = {d}, {metric}", s[metric], s[f"{metric} sd"], n[metric], n[f"{metric} sd"]))
    paper = table4.PAPER.set_index(["model", "dataset"])
    for dataset in paper.index.get_level_values("dataset").unique():
        for metric in ("AUC", "AP"):
            s, n = paper.loc[("S-VGAE", dataset)], paper.loc[("N-VGAE", dataset)]
            rows.append(_from_stats("Table 4", f"{dataset}, {metric}", s[metric], s[f"{metric} sd"], n[metric], n[f"{metric} sd"]))
    table = pd.DataFrame(rows)
    table["p (Holm)"] = np.concatenate([holm(group["p"].to_numpy()) for _, group in table.groupby("table", sort=False)])
    table["supported"] = ["yes" if p < 0.05 else "no" for p in table["p (Holm)"]]
    for column in ("p", "p (Holm)"):
        table[column] = table[column].map(format_p)
    return table.set_index(["table", "comparison"])


def _from_stats(name: str, comparison: str, s_mean, s_sd, n_mean, n_sd) -> dict:
    if s_sd == 0 and n_sd == 0:
        p = 0.0 if s_mean != n_mean else 1.0
    else:
        p = float(stats.ttest_ind_from_stats(s_mean, s_sd, PAPER_RUNS, n_mean, n_sd, PAPER_RUNS, equal_var=False).pvalue)
    return {"table": name, "comparison": comparison, "S − N": f"{s_mean - n_mean:+.2f}", "paper's spread S / N": f"{s_sd:.2f} / {n_sd:.2f}", "p": p}


def plus_minus_explanations(profile: str) -> pd.DataFrame:
    """Table 4's ± against what could explain it, per (dataset, model, metric): the paper's ±;
    our sd with one edge split per run; our standard error (sd / sqrt(runs)); our sd with one
    shared split; with one split and one initialisation."""
    ours = table4.table4_runs(profile)
    designs = design_runs(profile)
    paper = table4.PAPER.set_index(["model", "dataset"])
    rows = []
    for (dataset, model), cell in ours.groupby(["dataset", "model"]):
        for metric in ("AUC", "AP"):
            values = cell[metric]
            row = {
                "dataset": dataset, "model": model, "metric": metric,
                "paper's spread": f"{paper.loc[(model, dataset), f'{metric} sd']:.1f}",
                "sd, own split per run": f"{values.std():.2f}",
                "standard error": f"{values.std() / np.sqrt(len(values)):.2f}",
            }
            for design in DESIGNS:
                part = designs[(designs["dataset"] == dataset) & (designs["model"] == model) & (designs["design"] == design)][metric]
                row[f"sd, {design}"] = f"{part.std():.2f}" if len(part) > 1 else "not run"
            rows.append(row)
    return pd.DataFrame(rows).set_index(["dataset", "model", "metric"])


def closest_explanation(profile: str) -> pd.DataFrame:
    """Per explanation: the median over cells of our value / the paper's ±, and how many cells
    lie within a factor 2 of it (cells where the paper reports ± 0.0 are left out)."""
    table = plus_minus_explanations(profile)
    paper = table["paper's spread"].astype(float)
    rows = []
    for column in [c for c in table.columns if c != "paper's spread"]:
        values = pd.to_numeric(table[column], errors="coerce")
        keep = (paper > 0) & values.notna()
        if not keep.any():
            rows.append({"explanation": column.removeprefix("sd, "), "ours / paper (median)": "not run", "cells within 2x": ""})
            continue
        ratio = values[keep] / paper[keep]
        rows.append({
            "explanation": column.removeprefix("sd, "),
            "ours / paper (median)": f"{ratio.median():.1f}",
            "cells within 2x": f"{int(((ratio >= 0.5) & (ratio <= 2)).sum())} of {int(keep.sum())}",
        })
    return pd.DataFrame(rows).set_index("explanation")


def plus_minus_verdict(profile: str) -> str:
    """The explanation of the paper's ± that fits best, in words (closest median ratio to 1)."""
    table = closest_explanation(profile)
    ratios = pd.to_numeric(table["ours / paper (median)"], errors="coerce").dropna()
    if ratios.empty:
        return "None of the explanations has been run yet."
    best = (np.log(ratios)).abs().idxmin()
    row = table.loc[best]
    return (
        f"The explanation that fits best is **{best}**: our value is {row['ours / paper (median)']} times the paper's ± "
        f"(median over cells), and {row['cells within 2x']} cells lie within a factor 2 of it."
    )
