"""The closing chapter: every claim of the paper that the book tests, with the protocol and the
runs behind its verdict, gathered from the chapters' own functions (no number typed by hand).

Table 1 and Table 2 cells come from the paper's protocol (the ``full`` Table 1 models) where
both families have at least two runs there, and otherwise from the profile's own reduced runs,
whose verdicts carry the words of a reduced budget. Holm's correction runs within each source's
family of tests, as in the chapters.
"""

from __future__ import annotations

import pandas as pd

from hvae_lib.experiments import table1, table2, table3, table4
from hvae_lib.experiments.critique_audit import MODEL_PROFILE, table1_models


def _sources(profile: str) -> list[tuple[str, pd.DataFrame]]:
    """(profile, runs) pairs that cover Table 1's dimensions: the paper-scale runs where a d has
    two runs of each family, the profile's own runs for the rest."""
    scale = MODEL_PROFILE[profile]
    full = table1_models(profile)
    counts = full.groupby(["d", "model"]).size().unstack(fill_value=0) if not full.empty else pd.DataFrame()
    ready = [d for d in counts.index if (counts.loc[d] >= 2).all() and len(counts.columns) == 2]
    sources = [(scale, full[full["d"].isin(ready)])] if ready else []
    if scale != profile:
        own = table1.table1_runs(profile)
        rest = own[~own["d"].isin(ready)]
        if not rest.empty:
            sources.append((profile, rest))
    return sources


def _runs_text(runs: pd.DataFrame, d: int, source: str) -> str:
    cell = runs[runs["d"] == d].groupby("model").size()
    return f"{cell.get('N-VAE', 0)} + {cell.get('S-VAE', 0)} of {table1.PROFILES[source].runs} runs"


def table1_conclusions(profile: str) -> pd.DataFrame:
    """Table 1's claims per d: the source protocol, its runs, S - N ours and the paper's, the verdict."""
    rows = []
    for source, runs in _sources(profile):
        verdicts = table1.claims(runs, source)
        for (d, claim), row in verdicts.iterrows():
            rows.append({
                "claim": f"Table 1, d = {d}: {claim}", "protocol": _protocol_name(source), "runs": _runs_text(runs, d, source),
                "ours (S − N)": row["S − N (ours)"], "paper (S − N)": row["S − N (paper)"], "verdict": row["verdict"],
            })
    return pd.DataFrame(rows)


def table2_conclusions(profile: str) -> pd.DataFrame:
    """Table 2's claim per d (``table2.paper_claim``: the S-VAE classifies better, except at
    d = 40): the verdicts of its label budgets, counted."""
    rows = []
    for source, runs in _sources(profile):
        knn = table2.table2_runs(source, train=False)
        knn = knn[knn["d"].isin(runs["d"].unique())]
        if knn.empty:
            continue
        cells = table2.table2(knn, source)
        for d, group in cells.groupby(level="d"):
            verdicts = group["verdict"].value_counts()
            rows.append({
                "claim": f"Table 2, d = {d}: {table2.paper_claim(d)}", "protocol": _protocol_name(source),
                "runs": _runs_text(runs, d, source),
                "ours (S − N)": " / ".join(group["S − N"]) + " (100 / 600 / 1000 labels)",
                "paper (S − N)": " / ".join(f"{table2.PAPER.loc[d, f'S {n}'] - table2.PAPER.loc[d, f'N {n}']:+.1f}" for n in (100, 600, 1000)),
                "verdict": "; ".join(f"{verdict}: {count} of {len(group)}" for verdict, count in verdicts.items()),
            })
    return pd.DataFrame(rows)


def table3_conclusions(profile: str) -> pd.DataFrame:
    """Table 3's claim ("S+N is the best pairing") per cell and rival pairing, from the stored
    runs (``table3.best_pairing_tests``); one "not yet run" row while no cell can be tested."""
    runs = table3.stored_runs(profile)
    runs = runs[runs["configuration"] != table3.ANCHOR] if not runs.empty else runs
    tests = table3.best_pairing_tests(profile, runs)
    epochs = table3.PROFILES[profile].schedule.epochs
    protocol = f"Kingma's ({epochs} M2 epochs)" if profile == "full" else f"a reduced ({profile}, {epochs} M2 epochs)"
    if "p (Holm)" not in tests.columns:
        return pd.DataFrame([{"claim": "Table 3: S+N is the best pairing", "protocol": protocol, "runs": "none yet",
                              "ours (S − N)": "", "paper (S − N)": "", "verdict": "not yet run"}])
    rows = []
    for (z1, z2, other), row in tests.iterrows():
        cell = runs[(runs["z1"] == z1) & (runs["z2"] == z2)].groupby("configuration").size()
        rows.append({
            "claim": f"Table 3, z1 = {z1}, z2 = {z2}: S+N is better than {other}", "protocol": protocol,
            "runs": f"{cell.get('S+N', 0)} + {cell.get(other, 0)} runs",
            "ours (S − N)": row["difference"],
            "paper (S − N)": f"{table3.PAPER.loc[(z1, z2), 'S+N'] - table3.PAPER.loc[(z1, z2), other]:+.1f}",
            "verdict": row["verdict"],
        })
    return pd.DataFrame(rows)


def table3_cost(profile: str) -> str:
    """What the Table 3 grid costs here, from the stored runs (``table3.cost_reading``)."""
    return table3.cost_reading(profile, table3.stored_runs(profile))


def table4_conclusions(profile: str) -> pd.DataFrame:
    """Table 4's claims per data set and metric (paired by edge split)."""
    tests = table4.paired_tests(profile)
    runs = table4.table4_runs(profile)
    rows = []
    for (dataset, metric), row in tests.iterrows():
        if row["verdict"] == "not run":
            continue
        paper = table4.PAPER.set_index(["model", "dataset"])
        rows.append({
            "claim": f"Table 4, {dataset} {metric}: the S-VGAE is {'better' if row['claim'] == 'S better' else 'worse'}",
            "protocol": "the paper's (200 epochs, 10 runs)" if table4.PROFILES[profile]["epochs"] == 200 else f"a reduced ({profile})",
            "runs": f"{int((runs['dataset'] == dataset).sum() // 2)} pairs",
            "ours (S − N)": row["S − N"],
            "paper (S − N)": f"{paper.loc[('S-VGAE', dataset), metric] - paper.loc[('N-VGAE', dataset), metric]:+.2f}",
            "verdict": row["verdict"],
        })
    return pd.DataFrame(rows)


def _protocol_name(source: str) -> str:
    return "the paper's" if source == "full" else f"a reduced ({source})"


def conclusions(profile: str) -> pd.DataFrame:
    """Every tested claim of the paper, one row each."""
    frames = [table1_conclusions(profile), table2_conclusions(profile), table3_conclusions(profile), table4_conclusions(profile)]
    table = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    return table.set_index("claim")


def summary(profile: str) -> str:
    """The verdicts in words, counted per table (Markdown bullets)."""
    table = conclusions(profile).reset_index()
    lines = []
    for name in ("Table 1", "Table 2", "Table 3", "Table 4"):
        part = table[table["claim"].str.startswith(name)]
        if part.empty:
            continue
        pieces = []
        for protocol, group in part.groupby("protocol", sort=False):
            pieces.append(f"under {protocol} protocol: " + ", ".join(f"{count} {verdict}" for verdict, count in _count(group["verdict"]).items()))
        unit = "cells, d × label budget" if name == "Table 2" else "claims"
        lines.append(f"- **{name}** ({unit}): " + "; ".join(pieces) + ".")
    return "\n".join(lines)


def _count(verdicts: pd.Series) -> pd.Series:
    """Verdict counts; a Table 2 row "holds: 2 of 3; not significant: 1 of 3" counts its cells."""
    counts: dict[str, int] = {}
    for text in verdicts:
        for piece in text.split("; "):
            verdict, _, share = piece.partition(": ")
            counts[verdict] = counts.get(verdict, 0) + (int(share.split(" of ")[0]) if share else 1)
    return pd.Series(counts).sort_values(ascending=False)
