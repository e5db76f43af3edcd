"""What a chapter shows about itself: the provenance of its results."""

from __future__ import annotations

from datetime import datetime, timezone

from IPython.display import Markdown

from hvae_lib.results import RunStore, environment


def provenance_note(profile: str, *stores: RunStore) -> Markdown:
    """A short admonition naming the profile, device, commit and, per store, its runs.

    Without stores it describes the execution of the chapter itself.
    """
    env = environment()
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"Executed with profile **{profile}** on {env['device']}, torch {env['torch']}, commit `{env['commit']}`, {now}."]
    for store in stores:
        p = store.provenance()
        if p["runs"] == 0:
            lines.append(f"- `{store.experiment}`: no stored runs for profile {profile}.")
            continue
        epochs = ", ".join(str(e) for e in p["epochs"]) or "n/a"
        lines.append(
            f"- `{store.experiment}`: {p['runs']} runs on {'; '.join(p['devices'])}, epochs {epochs}, "
            f"{p['wall_s']:.0f} s of compute, commit(s) {', '.join(f'`{c}`' for c in p['commits'])}, "
            f"last finished {p['finished']}."
        )
    body = "\n".join(lines)
    return Markdown(f":::{{admonition}} Provenance\n:class: note\n{body}\n:::")


def table(frame, caption: str | None = None):
    """``frame`` as a formatted table for the book: its index becomes ordinary columns, no row
    numbers or index-name rows are shown, cells do not wrap, and any NaN raises (a missing value
    is written out as text by the code that makes the table, never left as NaN)."""
    flat = frame.reset_index() if any(name is not None for name in frame.index.names) else frame
    if flat.isna().to_numpy().any():
        missing = flat.columns[flat.isna().any()].tolist()
        raise ValueError(f"the table has missing values in columns {missing}; say why in the cell instead")
    styler = flat.style.hide(axis="index").set_table_styles([{"selector": "td, th", "props": "white-space: nowrap; padding: 0 0.6em;"}])
    return styler.set_caption(caption) if caption else styler
