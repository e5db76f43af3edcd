"""What a chapter shows about itself: the provenance of its results."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pandas as pd

from IPython.display import Markdown

from hvae_lib.results import RunStore, environment
from hvae_lib.results.provenance import changed_since


def provenance_note(profile: str, *stores: RunStore) -> Markdown:
    """A short admonition naming the profile, device, commit and, per store, its profile, runs
    and the commits that computed them; commits whose computing code (``COMPUTING_CODE``) has
    changed since, or that had uncommitted changes, are flagged in one line per kind.

    Without stores it describes the execution of the chapter itself.
    """
    env = environment()
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"Executed with profile **{profile}** on {env['device']}, torch {env['torch']}, commit `{env['commit']}`, {now}."]
    for store in stores:
        p = store.provenance()
        name = f"`{store.experiment}` ({store.profile})"
        if p["runs"] == 0:
            lines.append(f"- {name}: no stored runs.")
            continue
        epochs = p["epochs"]
        epochs = "n/a" if not epochs else str(epochs[0]) if len(epochs) == 1 else f"{epochs[0]}-{epochs[-1]}"
        lines.append(
            f"- {name}: {p['runs']} runs on {'; '.join(p['devices'])}, epochs {epochs}, "
            f"{p['wall_s']:.0f} s of compute, {_count(p['commits'], 'commit')} {_listed(p['commits'])}, last finished {p['finished']}."
        )
        lines += [f"  - {warning}" for warning in _staleness(p["commits"])]
    body = "\n".join(lines)
    return Markdown(f":::{{admonition}} Provenance\n:class: note\n{body}\n:::")


def _staleness(commits: list[str]) -> list[str]:
    """At most three warnings for results whose computing code is not this checkout's: the
    commits that had uncommitted library changes, those unknown here, and those the code has
    changed since (with the files that changed)."""
    changes = {commit: changed_since(commit) for commit in commits}
    dirty = [commit for commit in commits if commit.endswith("-dirty")]
    unknown = [commit for commit, changed in changes.items() if changed is None]
    stale = [commit for commit, changed in changes.items() if changed]
    warnings = []
    if dirty:
        warnings.append(f"{_of(dirty, commits)} had uncommitted changes to the library: {_listed(dirty)}")
    if unknown:
        warnings.append(f"{_of(unknown, commits)} {'is' if len(unknown) == 1 else 'are'} not in this checkout, so the code cannot be compared: {_listed(unknown)}")
    if stale:
        files = sorted(set().union(*(changes[commit] for commit in stale)))
        warnings.append(f"{_of(stale, commits)} {'predates' if len(stale) == 1 else 'predate'} changes to the code that computes them ({_listed(stale)}); changed since: {_listed(files)}")
    return warnings


def _count(items: list, noun: str) -> str:
    return f"{len(items)} {noun}" + ("" if len(items) == 1 else "s")


def _of(part: list, whole: list) -> str:
    return f"{len(part)} of {_count(whole, 'commit')}" if len(whole) > 1 else "its commit"


def _listed(items: list[str], shown: int = 3) -> str:
    """The first ``shown`` items in backticks, and how many more there are."""
    head = ", ".join(f"`{item}`" for item in items[:shown])
    return head + (f" and {len(items) - shown} more" if len(items) > shown else "")


def table(frame, caption: str | None = None, digits: int = 2):
    """``frame`` as a formatted table for the book: its index becomes ordinary columns, no row
    numbers or index-name rows are shown, numbers have ``digits`` decimals, "mean ± sd" cells
    never wrap (headers and prose cells may, so the table fits the page), and any NaN raises (a
    missing value is written out as text by the code that makes the table, never left as NaN)."""
    flat = frame if isinstance(frame.index, pd.RangeIndex) else frame.reset_index(names=_index_names(frame))
    if flat.isna().to_numpy().any():
        missing = flat.columns[flat.isna().any()].tolist()
        raise ValueError(f"the table has missing values in columns {missing}; say why in the cell instead")
    styler = (
        flat.style.hide(axis="index")
        .format(precision=digits)
        .set_table_styles([{"selector": "td, th", "props": "padding: 0 0.6em;"}])
        .map(lambda value: "white-space: nowrap;" if _is_mean_sd(value) else "")
    )
    return styler.set_caption(caption) if caption else styler


# A "mean ± sd" cell, perhaps with a count or a setting in brackets and a mark: the cells that
# never wrap (``hvae_lib.book_check`` holds the rendered book to the same pattern).
MEAN_SD = re.compile(r"^\S+ ± \S+( \([^()]*\))?\*?$")


def _is_mean_sd(value) -> bool:
    """Whether a cell is a "mean ± sd" value, perhaps with a mark or a count ("90.34 ± 0.14 (3)"),
    which must not break across lines; a sentence that quotes one may."""
    return MEAN_SD.match(str(value)) is not None


def _index_names(frame) -> list[str]:
    """The index levels' names, with an unnamed level shown as an empty header."""
    return [name if name is not None else "" for name in frame.index.names]


def glue(name: str, figure) -> None:
    """Hand ``figure`` to the book under ``name`` (a numbered, captioned ``glue:figure`` in the
    chapter's text); where MyST-NB is absent (Colab) the figure is simply shown."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        from IPython.display import display

        display(figure)
        return
    myst_glue(name, figure, display=False)
