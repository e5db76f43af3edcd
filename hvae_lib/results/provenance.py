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
    """A human-readable name of ``device`` (default: CUDA if available, else the CPU): for a CPU
    its model, cores and vector instructions, e.g. "CPU AMD EPYC (2 cores, AVX2)", since wall
    times on two CPUs of the same architecture differ several-fold."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {cpu_model()} ({os.cpu_count()} cores, {_matrix_instructions()})"


def _matrix_instructions() -> str:
    """The CPU's fastest matrix instructions: AMX BF16 (tiles: bfloat16 products several times
    faster than AVX-512 BF16 on the same cores), AVX-512 BF16, or torch's vector capability."""
    flags = (_cpu_field("flags") or "").split()
    if "amx_bf16" in flags:
        return "AMX BF16"
    return "AVX-512 BF16" if "avx512_bf16" in flags else torch.backends.cpu.get_cpu_capability()


def _cpu_field(name: str) -> str | None:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return None


@functools.cache
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or its architecture where that is unreadable."""
    return _cpu_field("model name") or platform.processor() or platform.machine()


@functools.cache
def native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (AVX-512 BF16 or AMX). Where it
    does not, torch emulates them and float32 is the faster choice (measured on an AVX2 EPYC: one
    M2 minibatch 733 ms in bfloat16, 235 ms in float32; on AVX-512 BF16 the two were within 5%
    and Table 1's bfloat16 step was 3x faster)."""
    flags = (_cpu_field("flags") or "").split()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def training_precision(preferred: str) -> str:
    """``preferred`` (a profile's training precision) where this CPU computes it natively, else
    float32: the precision a unit trains in when its command line does not name one."""
    return preferred if preferred != "bfloat16" or torch.cuda.is_available() or native_bfloat16() else "float32"


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
