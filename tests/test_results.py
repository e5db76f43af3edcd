"""The results cache: finished runs are stored atomically, never recomputed, never lost."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from hvae_lib.results import EARLIER_WALL_S, RunStore, git_commit, one_per_run
from hvae_lib.results import provenance
from hvae_lib.results.store import run_key


def test_run_key_is_stable_and_distinguishes_configs():
    assert run_key({"d": 2, "model": "vmf"}, 0) == run_key({"model": "vmf", "d": 2}, 0)
    keys = {run_key({"d": d, "model": m}, s) for d in (2, 5) for m in ("normal", "vmf") for s in (0, 1)}
    assert len(keys) == 8
    assert run_key({"d": 2, "model": "vmf"}, 3).startswith("d=2-model=vmf-seed=3-")


def test_finished_runs_are_not_recomputed(tmp_path):
    store = RunStore("table1", "smoke", root=tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"LL": -100.5, "epochs": 3}

    first = store.run({"model": "vmf", "d": 2}, 0, compute)
    second = store.run({"model": "vmf", "d": 2}, 0, compute)
    assert len(calls) == 1 and first == second
    provenance = first["provenance"]
    assert provenance["epochs"] == 3 and provenance["wall_s"] >= 0
    assert {"device", "torch", "commit", "finished"} <= set(provenance)
    assert first["profile"] == "smoke" and first["experiment"] == "table1"


def test_a_resumed_ensemble_counts_its_earlier_processes_in_its_wall_time(tmp_path):
    """``EARLIER_WALL_S`` (seconds before a resume) is added to the ensemble's wall time, shared
    over its runs, and is not stored as a metric."""
    store = RunStore("table1", "smoke", root=tmp_path)
    records = store.run_ensemble({"d": 2}, [0, 1], lambda seeds: [{"LL": -1.0, EARLIER_WALL_S: 100.0} for _ in seeds])
    assert all(50.0 <= r["provenance"]["wall_s"] < 51.0 for r in records)
    assert all(r["metrics"] == {"LL": -1.0} for r in records)


def test_interrupted_experiment_resumes_without_losing_runs(tmp_path):
    seeds = range(5)
    computed = []

    def experiment(store, fail_at=None):
        for seed in seeds:
            def compute(seed=seed):
                if seed == fail_at:
                    raise KeyboardInterrupt("killed")
                computed.append(seed)
                return {"LL": -90.0 - seed}
            store.run({"model": "normal", "d": 5}, seed, compute)

    store = RunStore("table1", "cpu", root=tmp_path)
    with pytest.raises(KeyboardInterrupt):
        experiment(store, fail_at=3)
    assert computed == [0, 1, 2]
    assert len(pd.read_csv(store.folder / "runs.csv")) == 3
    assert not list(store.folder.rglob("*.tmp"))

    experiment(RunStore("table1", "cpu", root=tmp_path))
    assert computed == [0, 1, 2, 3, 4]
    table = pd.read_csv(store.folder / "runs.csv")
    assert sorted(table["run"]) == list(seeds)
    assert list(table.sort_values("run")["LL"]) == [-90.0 - s for s in seeds]
    assert {"model", "d", "run", "LL", "wall_s", "device", "commit"} <= set(table.columns)


def test_non_finite_metrics_are_refused(tmp_path):
    store = RunStore("table1", "smoke", root=tmp_path)
    with pytest.raises(FloatingPointError, match="LL"):
        store.run({"d": 2}, 0, lambda: {"LL": math.nan, "KL": 1.0})
    assert store.get({"d": 2}, 0) is None


def test_profile_is_checked(tmp_path):
    with pytest.raises(ValueError, match="profile must be one of"):
        RunStore("table1", "quick", root=tmp_path)


def test_provenance_summary(tmp_path):
    store = RunStore("table4", "cpu", root=tmp_path)
    for seed in range(3):
        store.run({"dataset": "Cora"}, seed, lambda: {"AUC": 0.9, "epochs": 200})
    summary = store.provenance()
    assert summary["runs"] == 3 and summary["epochs"] == [200] and summary["profile"] == "cpu"
    assert len(summary["devices"]) == 1 and summary["wall_s"] >= 0
    record = json.loads(next(store.runs_folder.glob("*.json")).read_text())
    assert record["config"] == {"dataset": "Cora"}


def test_git_commit_names_this_checkout():
    commit = git_commit()
    assert commit == "unknown" or len(commit.removesuffix("-dirty")) == 10


@pytest.mark.parametrize("flags, native, named", [
    ("fpu sse2 avx2 avx512f avx512_bf16", True, "AVX-512 BF16"),
    ("fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile", True, "AMX BF16"),
    ("fpu sse2 avx2 amx_bf16", True, "AMX BF16"),
    ("fpu sse2 avx2 avx512f", False, "BF16"),
])
def test_bfloat16_is_native_only_with_its_instructions_and_units_fall_back_to_float32(monkeypatch, tmp_path, flags, native, named):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    real_path = provenance.Path
    monkeypatch.setattr(provenance, "Path", lambda p: cpuinfo if p == "/proc/cpuinfo" else real_path(p))
    monkeypatch.setattr(provenance.torch.cuda, "is_available", lambda: False)
    provenance.native_bfloat16.cache_clear(), provenance.cpu_model.cache_clear()
    try:
        assert provenance.native_bfloat16() is native
        assert provenance.training_precision("bfloat16") == ("bfloat16" if native else "float32")
        assert provenance.training_precision("float32") == "float32"
        assert provenance.device_name("cpu").startswith("CPU Test CPU 9000 (")
        assert (named in provenance.device_name("cpu")) is native
    finally:
        provenance.native_bfloat16.cache_clear(), provenance.cpu_model.cache_clear()


def test_one_per_run_keeps_the_preferred_row_of_each_run_and_the_order():
    frame = pd.DataFrame({
        "model": ["N", "N", "S", "S", "S"], "run": [0, 0, 0, 1, 1],
        "precision": ["float32", "bfloat16", "float32", "float32", "bfloat16"], "LL": [1.0, 2.0, 3.0, 4.0, 5.0],
    }, index=[10, 11, 12, 13, 14])
    kept = one_per_run(frame, ["model", "run"], frame["precision"] == "bfloat16")
    assert kept.index.tolist() == [11, 12, 14]
    assert kept["LL"].tolist() == [2.0, 3.0, 5.0]
    none_preferred = one_per_run(frame, ["model", "run"], frame["precision"] == "float16")
    assert none_preferred.index.tolist() == [10, 12, 13]
