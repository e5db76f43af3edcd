"""A store of finished runs: one JSON record per run, written atomically when the run ends.

A run is keyed by (experiment, profile, config, seed). ``RunStore.run`` returns the stored
record when the run has finished before, so an interrupted experiment resumes where it stopped
and never recomputes or loses a finished run. Every record carries its provenance.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from hvae_lib.results.provenance import environment

PROFILES = ("smoke", "cpu", "full")
# A metrics key that ``run_ensemble``'s compute may set: seconds its ensemble already spent in
# earlier processes (resumed from a checkpoint), added to the wall time and not stored as a metric.
EARLIER_WALL_S = "earlier_wall_s"


def results_dir() -> Path:
    """The results root: ``$HVAE_RESULTS_DIR`` if set, else ``results/`` in the project."""
    configured = os.environ.get("HVAE_RESULTS_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path(__file__).resolve().parents[2] / "results"


def run_key(config: Mapping[str, Any], seed: int) -> str:
    """A stable file name for the run (config, seed): a readable prefix (ASCII letters, digits,
    ``=.-``, everything else as ``_``) and a hash of the config."""
    canonical = json.dumps({"config": dict(config), "seed": seed}, sort_keys=True, default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:12]
    readable = "-".join(f"{k}={v}" for k, v in sorted(config.items()) if isinstance(v, (str, int)))
    return re.sub(r"[^A-Za-z0-9=.-]+", "_", f"{readable}-seed={seed}-{digest}").lstrip("-")


class RunStore:
    """Finished runs of ``experiment`` under ``profile``, stored in ``root/experiment/profile``."""

    def __init__(self, experiment: str, profile: str, root: Path | str | None = None):
        if profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
        self.experiment = experiment
        self.profile = profile
        self.folder = Path(root or results_dir()) / experiment / profile

    @property
    def runs_folder(self) -> Path:
        return self.folder / "runs"

    def path(self, config: Mapping[str, Any], seed: int) -> Path:
        return self.runs_folder / f"{run_key(config, seed)}.json"

    def get(self, config: Mapping[str, Any], seed: int) -> dict[str, Any] | None:
        """The record of the finished run (config, seed), or None."""
        path = self.path(config, seed)
        return json.loads(path.read_text()) if path.exists() else None

    def run(
        self,
        config: Mapping[str, Any],
        seed: int,
        compute: Callable[[], Mapping[str, Any]],
        device: str | None = None,
    ) -> dict[str, Any]:
        """The record of run (config, seed): from the store, or by calling ``compute()``.

        ``compute`` returns the run's metrics (numbers; an ``epochs`` entry is recorded as
        provenance). A NaN or infinite metric raises instead of being stored.
        """
        return self.run_ensemble(config, [seed], lambda seeds: [compute()], device)[0]

    def run_ensemble(
        self,
        config: Mapping[str, Any],
        seeds: Sequence[int],
        compute: Callable[[list[int]], Sequence[Mapping[str, Any]]],
        device: str | None = None,
    ) -> list[dict[str, Any]]:
        """The records of runs (config, seed) for every seed, computing only the missing ones.

        ``compute(missing_seeds)`` trains those runs together (one vectorised ensemble) and
        returns one metrics mapping per seed, in order. Each record's ``wall_s`` is the
        ensemble's wall time (with the ``EARLIER_WALL_S`` of a resumed ensemble) divided by its
        number of runs; ``ensemble_runs`` says how many were trained together.
        """
        missing = [seed for seed in seeds if self.get(config, seed) is None]
        if missing:
            start = time.perf_counter()
            results = [dict(metrics) for metrics in compute(missing)]
            wall_s = time.perf_counter() - start
            if len(results) != len(missing):
                raise ValueError(f"compute returned {len(results)} results for {len(missing)} seeds")
            wall_s += max(metrics.pop(EARLIER_WALL_S, 0.0) for metrics in results)
            for seed, metrics in zip(missing, results):
                bad = [k for k, v in metrics.items() if isinstance(v, float) and not math.isfinite(v)]
                if bad:
                    raise FloatingPointError(f"run {run_key(config, seed)} produced non-finite metrics {bad}: {metrics}")
            finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
            for seed, metrics in zip(missing, results):
                record = {
                    "experiment": self.experiment,
                    "profile": self.profile,
                    "config": dict(config),
                    "seed": seed,
                    "metrics": metrics,
                    "provenance": {
                        **environment(device),
                        "epochs": metrics.get("epochs"),
                        "wall_s": round(wall_s / len(missing), 3),
                        "ensemble_runs": len(missing),
                        "finished": finished,
                    },
                }
                _write_atomic(self.path(config, seed), json.dumps(record, indent=1, default=str))
            self.write_csv()
        return [self.get(config, seed) for seed in seeds]

    def checkpoint_path(self, config: Mapping[str, Any], seeds: Sequence[int]) -> Path:
        """Where an unfinished ensemble of ``seeds`` keeps its per-epoch checkpoint (not committed)."""
        return self.folder / "checkpoints" / f"{run_key(config, seeds[0])}-runs={len(seeds)}.pt"

    def artifact_path(self, config: Mapping[str, Any], seed: int, name: str) -> Path:
        """A file that belongs to run (config, seed), e.g. its test-set latent codes."""
        return self.folder / "artifacts" / run_key(config, seed) / name

    def records(self) -> list[dict[str, Any]]:
        """Every finished run, in a stable order."""
        if not self.runs_folder.exists():
            return []
        return [json.loads(p.read_text()) for p in sorted(self.runs_folder.glob("*.json"))]

    def frame(self) -> pd.DataFrame:
        """One row per run: config columns, ``run`` (the seed), metrics, provenance."""
        rows = [
            {**r["config"], "run": r["seed"], **r["metrics"], **{k: v for k, v in r["provenance"].items() if k not in ("epochs", *r["metrics"])}}
            for r in self.records()
        ]
        return pd.DataFrame(rows)

    def write_csv(self) -> Path:
        """Rewrite ``runs.csv`` (tidy, one row per run) atomically; return its path."""
        path = self.folder / "runs.csv"
        _write_atomic(path, self.frame().to_csv(index=False))
        return path

    def provenance(self) -> dict[str, Any]:
        """A summary over the stored runs: devices, commits, runs, epochs, total wall time."""
        records = self.records()
        provenance = [r["provenance"] for r in records]
        epochs = sorted({p["epochs"] for p in provenance if p.get("epochs") is not None})
        return {
            "profile": self.profile,
            "runs": len(records),
            "devices": sorted({p["device"] for p in provenance}),
            "commits": sorted({p["commit"] for p in provenance}),
            "torch": sorted({p["torch"] for p in provenance}),
            "epochs": epochs,
            "wall_s": round(sum(p["wall_s"] for p in provenance), 1),
            "finished": max((p["finished"] for p in provenance), default=None),
        }


def one_per_run(frame: pd.DataFrame, keys: Sequence[str], preferred: pd.Series) -> pd.DataFrame:
    """One row of ``frame`` per value of its ``keys`` (a run stored under two settings, such as
    its two training precisions): the first row where ``preferred`` (aligned with ``frame``) is
    true, else the first row; the rows kept stay in their order."""
    ranked = frame.loc[(~preferred.astype(bool)).sort_values(kind="stable").index]
    return ranked.drop_duplicates(list(keys)).sort_index()


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
