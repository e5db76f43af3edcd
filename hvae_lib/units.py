"""Train experiment units one after another within a deadline, and pack what they stored.

A unit is one command line of an experiment module, the way each chapter's long runs are
launched, e.g. ``hvae_lib.experiments.table3 cpu --configurations N+N --z1 5``. A units file
holds one per line, quoted as in a shell (``--defect "fixed binarisation"``); blank lines and lines starting with ``#`` are skipped.

    python -m hvae_lib.units UNITS_FILE [--deadline SECONDS] [--consume] [--log FILE] [--pack ARCHIVE]

Each unit runs as ``python -m <line>`` in its own process, one at a time (two training processes
on the same cores slow each other several-fold), with the time left before the deadline as its
limit. A unit stopped by the deadline loses only the epochs since its last checkpoint, where its
trainer writes one, and resumes from it the next time; the units after it are left for later.
With ``--consume`` a unit is removed from the file when it starts, so the file is a queue that
can be appended to while the units run.

With ``--pack`` every file written under ``results/`` since the start goes into one gzip tar
archive, its paths relative to the repository root, so that extracting it there adds the new
runs to this checkout. Training checkpoints and recomputable latent codes (the ``checkpoints``
and ``codes`` folders, which git ignores) stay out. This is how units trained on a borrowed
machine, a GPU, come back.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEFT_OUT = ("checkpoints", "codes")


@dataclass(frozen=True)
class UnitOutcome:
    """How one unit ended: its exit status (None where the deadline stopped it) and its seconds."""

    unit: str
    returncode: int | None
    seconds: float


def read_units(path: Path) -> list[str]:
    """The units of a units file, in order."""
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _take_first(path: Path) -> str | None:
    """Remove and return the first unit of a units file, or None when none is left."""
    lines = path.read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.strip() and not line.strip().startswith("#"):
            path.write_text("".join(lines[:i] + lines[i + 1 :]))
            return line.strip()
    return None


def run_units(path: Path, deadline_s: float, consume: bool = False, log: Path | None = None) -> list[UnitOutcome]:
    """Run the units of ``path`` in order until none is left or ``deadline_s`` seconds have
    passed; a unit still running at the deadline is stopped. Each unit's output goes to the
    console (or after its start line to ``log``); returns the outcomes of the units started."""
    if not path.exists():
        raise FileNotFoundError(f"no units file at {path}")
    end = time.monotonic() + deadline_s
    pending = None if consume else read_units(path)
    outcomes = []
    while time.monotonic() < end:
        unit = _take_first(path) if consume else (pending.pop(0) if pending else None)
        if unit is None:
            break
        _log(log, f"START {_now()} {unit}")
        start = time.monotonic()
        out = open(log, "a") if log else None
        try:
            returncode = subprocess.run(
                [sys.executable, "-m", *shlex.split(unit)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT if out else None,
                timeout=max(end - time.monotonic(), 1.0) if end < float("inf") else None, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            ).returncode
        except subprocess.TimeoutExpired:
            returncode = None
        finally:
            if out:
                out.close()
        outcomes.append(UnitOutcome(unit, returncode, time.monotonic() - start))
        _log(log, f"END {_now()} {'stopped at the deadline' if returncode is None else f'rc={returncode}'} {unit}")
    return outcomes


def pack_results(archive: Path, since: float, root: Path = ROOT) -> list[str]:
    """Write every file under ``root/results`` modified at or after ``since`` (a time.time()),
    except those in ``LEFT_OUT`` folders, into the gzip tar ``archive`` with paths relative to
    ``root``; returns those paths."""
    paths = sorted(
        p.relative_to(root).as_posix() for p in (root / "results").rglob("*")
        if p.is_file() and p.stat().st_mtime >= since and not set(p.relative_to(root).parts) & set(LEFT_OUT)
    )
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for name in paths:
            tar.add(root / name, arcname=name)
    return paths


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _log(log: Path | None, line: str) -> None:
    print(line, flush=True)
    if log:
        with open(log, "a") as f:
            f.write(line + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("units", type=Path, help="the units file: one experiment command line per line")
    parser.add_argument("--deadline", type=float, default=float("inf"), help="seconds after which no unit starts and the running one is stopped")
    parser.add_argument("--consume", action="store_true", help="remove each unit from the file as it starts")
    parser.add_argument("--log", type=Path, help="append the units' start and end lines and their output here")
    parser.add_argument("--pack", type=Path, help="a .tar.gz to receive the results files the units wrote")
    args = parser.parse_args(argv)
    started = time.time()
    outcomes = run_units(args.units, args.deadline, args.consume, args.log)
    for outcome in outcomes:
        status = "stopped at the deadline" if outcome.returncode is None else f"exit {outcome.returncode}"
        print(f"{outcome.seconds:8.0f} s  {status:24}  {outcome.unit}")
    if args.pack:
        print(f"{len(pack_results(args.pack, started))} results files packed into {args.pack}")
    return 0 if all(o.returncode == 0 for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
