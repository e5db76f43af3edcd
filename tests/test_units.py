"""The units runner: order, deadline, the queue file, and what it packs."""

from __future__ import annotations

import os
import tarfile
import time

import pytest

from hvae_lib import units


@pytest.fixture
def unit_module(tmp_path, monkeypatch):
    """A module ``fake_unit NAME SECONDS`` that appends NAME to a file, then sleeps."""
    (tmp_path / "fake_unit.py").write_text(
        "import sys, time, pathlib\n"
        f"pathlib.Path({str(tmp_path / 'ran.txt')!r}).open('a').write(sys.argv[1] + '\\n')\n"
        "time.sleep(float(sys.argv[2]))\n"
        "sys.exit(int(sys.argv[3]) if len(sys.argv) > 3 else 0)\n"
    )
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    return tmp_path


def test_units_run_in_order_and_the_deadline_stops_the_running_one(unit_module):
    queue = unit_module / "units.txt"
    queue.write_text("# a comment\nfake_unit a 0\n\nfake_unit b 0 3\nfake_unit c 120\nfake_unit d 0\n")
    start = time.monotonic()
    outcomes = units.run_units(queue, deadline_s=15.0)
    assert time.monotonic() - start < 60
    assert [o.unit for o in outcomes] == ["fake_unit a 0", "fake_unit b 0 3", "fake_unit c 120"]
    assert [o.returncode for o in outcomes] == [0, 3, None]
    assert (unit_module / "ran.txt").read_text().split() == ["a", "b", "c"]
    assert units.read_units(queue) == ["fake_unit a 0", "fake_unit b 0 3", "fake_unit c 120", "fake_unit d 0"]


def test_a_consumed_queue_loses_each_unit_as_it_starts_and_takes_appended_ones(unit_module):
    queue = unit_module / "units.txt"
    queue.write_text("fake_unit a 1\n")
    log = unit_module / "units.log"
    with queue.open("a") as f:
        f.write("fake_unit b 0\n")
    outcomes = units.run_units(queue, deadline_s=60.0, consume=True, log=log)
    assert [o.unit for o in outcomes] == ["fake_unit a 1", "fake_unit b 0"]
    assert units.read_units(queue) == []
    lines = log.read_text().splitlines()
    assert lines[0].startswith("START ") and lines[0].endswith("fake_unit a 1")
    assert lines[-1].startswith("END ") and "rc=0" in lines[-1]


def test_a_quoted_argument_reaches_the_unit_as_one(unit_module):
    queue = unit_module / "units.txt"
    queue.write_text('fake_unit "fixed binarisation" 0\n')
    outcomes = units.run_units(queue, deadline_s=60.0)
    assert [o.returncode for o in outcomes] == [0]
    assert (unit_module / "ran.txt").read_text() == "fixed binarisation\n"


def test_a_missing_units_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no units file"):
        units.run_units(tmp_path / "absent.txt", deadline_s=1.0)


def test_pack_takes_new_results_files_and_leaves_checkpoints_and_codes(tmp_path):
    root = tmp_path / "repo"
    old = root / "results/table1/full/runs/old.json"
    kept = [root / "results/table1/full/runs/new.json", root / "results/table1/full/runs.csv", root / "results/table3_m1/full/models/m.pt"]
    left = [root / "results/table1/full/checkpoints/c.pt", root / "results/table3_m1/full/codes/z.pt"]
    for path in [old, *kept, *left]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    since = time.time() - 10
    os.utime(old, (since - 100, since - 100))
    archive = tmp_path / "out/results.tar.gz"
    packed = units.pack_results(archive, since, root=root)
    expected = sorted(p.relative_to(root).as_posix() for p in kept)
    assert packed == expected
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == expected
