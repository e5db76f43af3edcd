"""The chapters' provenance box: one line per store, and at most one warning of each kind
however many commits computed the runs."""

from types import SimpleNamespace

import pytest

from hvae_lib import report


def _store(commits, experiment="table1", profile="full"):
    summary = {
        "profile": profile, "runs": 2 * len(commits), "devices": ["CPU x86_64 (2 cores)"], "commits": commits,
        "torch": ["2.14.1"], "epochs": [121, 500], "wall_s": 3600.0, "finished": "2026-12-03T15:28:19+00:00",
    }
    return SimpleNamespace(experiment=experiment, profile=profile, provenance=lambda: summary)


@pytest.fixture
def changes(monkeypatch):
    """Which files each made-up commit's code differs in from this checkout (None: unknown)."""
    table = {
        "aaaaaaaaaa": ["hvae_lib/models/ensemble.py", "hvae_lib/data/images.py"],
        "bbbbbbbbbb": ["hvae_lib/data/images.py", "hvae_lib/training/vae_training.py"],
        "cccccccccc": [],
        "dddddddddd": [],
        "eeeeeeeeee": None,
    }
    monkeypatch.setattr(report, "changed_since", lambda commit: table[commit.removesuffix("-dirty")])
    return table


def test_one_warning_per_kind_with_the_union_of_changed_files(changes):
    commits = ["aaaaaaaaaa", "bbbbbbbbbb-dirty", "cccccccccc", "dddddddddd-dirty", "eeeeeeeeee"]
    warnings = report._staleness(commits)
    assert warnings == [
        "2 of 5 commits had uncommitted changes to the library: `bbbbbbbbbb-dirty`, `dddddddddd-dirty`",
        "1 of 5 commits is not in this checkout, so the code cannot be compared: `eeeeeeeeee`",
        "2 of 5 commits predate changes to the code that computes them (`aaaaaaaaaa`, `bbbbbbbbbb-dirty`); "
        "changed since: `hvae_lib/data/images.py`, `hvae_lib/models/ensemble.py`, `hvae_lib/training/vae_training.py`",
    ]


def test_current_commits_give_no_warning(changes):
    assert report._staleness(["cccccccccc", "dddddddddd"]) == []


def test_a_single_stale_commit_reads_as_its_commit(changes):
    assert report._staleness(["aaaaaaaaaa"]) == [
        "its commit predates changes to the code that computes them (`aaaaaaaaaa`); "
        "changed since: `hvae_lib/data/images.py`, `hvae_lib/models/ensemble.py`"
    ]


def test_long_lists_are_cut_to_three_with_a_count():
    assert report._listed(["a", "b", "c", "d", "e"]) == "`a`, `b`, `c` and 2 more"
    assert report._listed(["a", "b"]) == "`a`, `b`"


def test_the_note_names_each_store_with_its_profile(changes):
    note = report.provenance_note("cpu", _store(["cccccccccc"], profile="full"), _store(["aaaaaaaaaa", "cccccccccc"], profile="cpu")).data
    lines = note.splitlines()
    assert lines[0] == ":::{admonition} Provenance" and lines[-1] == ":::"
    stores = [line for line in lines if line.startswith("- ")]
    assert stores[0].startswith("- `table1` (full): 2 runs on CPU x86_64 (2 cores), epochs 121-500, 3600 s of compute, 1 commit `cccccccccc`,")
    assert stores[1].startswith("- `table1` (cpu): 4 runs") and "2 commits `aaaaaaaaaa`, `cccccccccc`" in stores[1]
    assert sum(line.startswith("  - ") for line in lines) == 1
