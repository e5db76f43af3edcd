"""Table 3 read at each run's best validation epoch instead of its last: does the epoch budget
decide the ranking of the pairings?

Table 3 scores every run after its last M2 epoch, as the protocol says. A curve that peaks early
and then declines makes that score a property of the budget as much as of the pairing. Here
each run is also read at the epoch where its validation accuracy is highest (the first such
epoch among those evaluated, ``M2Schedule.evaluate_every`` apart), and its test accuracy there
is set beside the final one. This selection reads the label of every validation image (10,000
under Table 1's full protocol), which a 100-label problem would not have: it measures how much
the end point matters, and is not a protocol to report.
"""

from __future__ import annotations

import pandas as pd

from hvae_lib.experiments.table3 import PAPER, run_curve


def run_selection(profile: str, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run of ``runs``: its pairing, z1, z2, run, the best validation epoch, the
    test accuracy (%) there and after the last epoch, from its stored curve."""
    rows = []
    for _, run in runs.iterrows():
        curve = run_curve(profile, run["configuration"], int(run["z1"]), int(run["z2"]), int(run["run"]))
        best = curve["valid"].idxmax()
        rows.append({
            "pairing": run["configuration"], "z1": int(run["z1"]), "z2": int(run["z2"]), "run": int(run["run"]),
            "best epoch": int(best), "at best": float(curve.loc[best, "test"]), "final": float(curve["test"].iloc[-1]),
        })
    return pd.DataFrame(rows, columns=["pairing", "z1", "z2", "run", "best epoch", "at best", "final"])


def _mean_sd(values: pd.Series) -> str:
    return f"{values.mean():.1f} ± {values.std():.1f}" if len(values) > 1 else f"{values.mean():.1f}"


def _signed(value: float) -> str:
    """``value`` to one decimal with its sign, zero as +0.0 (never -0.0)."""
    return f"{round(value, 1) + 0.0:+.1f}"


def _epochs(values: pd.Series) -> str:
    low, high = int(values.min()), int(values.max())
    return f"{low}" if low == high else f"{low}–{high}"


def selection_table(profile: str, runs: pd.DataFrame) -> pd.DataFrame:
    """Per cell of the paper's grid with runs: the runs' best validation epochs (their range),
    the test accuracy there and after the last epoch (mean ± sd over runs, %) and the mean
    change from the one to the other."""
    selected = run_selection(profile, runs[runs["configuration"].isin(PAPER.columns)])
    if selected.empty:
        return pd.DataFrame({"pairing": ["all"], "measured": ["no cell of the grid has runs yet"]}).set_index("pairing")
    rows = []
    for (pairing, z1, z2), cell in selected.groupby(["pairing", "z1", "z2"]):
        change = cell["final"] - cell["at best"]
        rows.append({
            "pairing": pairing, "z1": z1, "z2": z2, "runs": len(cell), "best validation epoch": _epochs(cell["best epoch"]),
            "test at that epoch": _mean_sd(cell["at best"]), "test after the last epoch": _mean_sd(cell["final"]),
            "last − best epoch": _signed(change.mean()),
        })
    return pd.DataFrame(rows).set_index(["pairing", "z1", "z2"])


def selection_reading(profile: str, runs: pd.DataFrame) -> str:
    """Which pairing leads each (z1, z2) with all three pairings stored, read after the last
    epoch and at the best validation epoch, and where the two readings disagree; then, per
    pairing, its best epochs and what it gains or loses after them."""
    selected = run_selection(profile, runs[runs["configuration"].isin(PAPER.columns)])
    if selected.empty:
        return "No cell of the grid has runs yet."
    means = selected.groupby(["z1", "z2", "pairing"])[["at best", "final"]].mean()
    complete = [cell for cell, group in means.groupby(level=["z1", "z2"]) if len(group) == len(PAPER.columns)]
    text = []
    if complete:
        leaders = {cell: (means.loc[cell]["final"].idxmax(), means.loc[cell]["at best"].idxmax()) for cell in complete}
        final_sn = sum(final == "S+N" for final, _ in leaders.values())
        best_sn = sum(best == "S+N" for _, best in leaders.values())
        changed = [f"z1 = {z1}, z2 = {z2} ({final} after the last epoch, {best} at the best)" for (z1, z2), (final, best) in leaders.items() if final != best]
        text.append(
            f"Of the {len(complete)} cells with all three pairings, S+N leads {final_sn} after the last epoch and {best_sn} at "
            f"the runs' best validation epochs; "
            + (f"the leader changes in {len(changed)}: {'; '.join(changed)}." if changed else "the leader is the same in every one of them.")
        )
    for pairing, group in selected.groupby("pairing"):
        change = group["final"] - group["at best"]
        epochs = group["best epoch"]
        when = f"best validation epoch {_epochs(epochs)} in every run" if epochs.nunique() == 1 else f"best validation epochs {_epochs(epochs)} (median {epochs.median():.0f})"
        text.append(
            f"{pairing} ({len(group)} runs): {when}, and from there to the last epoch its test accuracy moves by "
            f"{_signed(change.mean())} points on average ({_signed(change.min())} to {_signed(change.max())})."
        )
    return " ".join(text)
