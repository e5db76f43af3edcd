"""Where and with what a result was produced: device, torch version, git commit."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from pathlib import Path

import torch

_PROJECT = Path(__file__).resolve().parents[2]


def device_name(device: torch.device | str | None = None) -> str:
    """A human-readable name of ``device`` (default: CUDA if available, else the CPU)."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {platform.machine()} ({os.cpu_count()} cores)"


@functools.cache
def git_commit() -> str:
    """The project's short commit hash, with ``-dirty`` when tracked library files differ from
    it, read once per process (at import of ``hvae_lib.results``): the code a process runs is
    the code it imported, whatever is committed while it runs."""
    try:
        commit = _git("rev-parse", "--short=10", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no", "--", "hvae_lib")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=_PROJECT, capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


def environment(device: torch.device | str | None = None) -> dict[str, str]:
    """Provenance fields shared by every record: device, torch version, commit."""
    return {"device": device_name(device), "torch": torch.__version__, "commit": git_commit()}


# The library code that computes results (not the code that only presents them).
COMPUTING_CODE = ("hvae_lib/special", "hvae_lib/distributions", "hvae_lib/models", "hvae_lib/training", "hvae_lib/evaluation", "hvae_lib/data")


def changed_since(commit: str, paths: tuple[str, ...] = COMPUTING_CODE) -> list[str] | None:
    """The files under ``paths`` that differ between ``commit`` (a ``git_commit`` value; a
    ``-dirty`` suffix is ignored) and the working tree, or None when the commit is unknown here."""
    try:
        return _git("diff", "--name-only", commit.removesuffix("-dirty"), "--", *paths).splitlines()
    except (OSError, subprocess.CalledProcessError):
        return None


git_commit()
