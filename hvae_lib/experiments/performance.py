"""The performance appendix: the training engine's throughput against its peers and floors.

It presents what ``benchmarks/ensemble.py`` measured and stored under
``results/benchmarks/ensemble/`` (the measuring is done there, never here).
"""

from __future__ import annotations

import json

import pandas as pd

from hvae_lib.results import results_dir

METHODS = ("engine (bfloat16)", "engine (float32)", "autograd ensemble", "reference loop", "floor (float32)", "floor (bfloat16)")


def ensemble_benchmark(device: str = "cpu") -> tuple[pd.DataFrame, dict]:
    """The stored measurements (one row per batch, d, latent, method) and their provenance."""
    folder = results_dir() / "benchmarks" / "ensemble"
    csv, meta = folder / f"{device}.csv", folder / f"{device}.json"
    if not csv.exists():
        raise FileNotFoundError(f"{csv} is missing: run `make benchmarks` (benchmarks/ensemble.py) on this machine first")
    return pd.read_csv(csv), json.loads(meta.read_text())


def _wide(frame: pd.DataFrame) -> pd.DataFrame:
    wide = frame.pivot_table(index=["batch", "d", "latent"], columns="method", values="images_per_s", sort=False)
    return wide[[m for m in METHODS if m in wide]]


def throughput_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Thousands of (runs x images) per second for every method, one row per cell."""
    table = (_wide(frame) / 1000).map(lambda v: f"{v:.1f}")
    table.columns.name = None
    return table


def ratio_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The engine (bfloat16) against the replaced engine, the user's reference loop and the two
    floors: a ratio above 1 means the engine is faster; against a floor, the share of the floor's
    speed the engine reaches."""
    wide = _wide(frame)
    engine = wide["engine (bfloat16)"]
    table = pd.DataFrame({
        "vs autograd ensemble": engine / wide["autograd ensemble"],
        "vs reference loop": engine / wide["reference loop"],
        "vs float32 engine": engine / wide["engine (float32)"],
        "share of float32 floor": engine / wide["floor (float32)"],
        "share of bfloat16 floor": engine / wide["floor (bfloat16)"],
    })
    return table.map(lambda v: f"{v:.2f}")
