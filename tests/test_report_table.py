"""The book's table formatting: "mean ± sd" values never wrap, prose cells may."""

from __future__ import annotations

import pandas as pd
import pytest

from hvae_lib.report import table


def _nowrap_cells(styled) -> list[str]:
    """The cells whose style rule says white-space: nowrap."""
    rules = [rule for rule in styled.to_html().split("}") if "white-space: nowrap" in rule]
    frame = styled.data
    return [str(frame.iat[r, c]) for r in range(frame.shape[0]) for c in range(frame.shape[1])
            if any(f"#T_{styled.uuid}_row{r}_col{c}" in rule for rule in rules)]


def test_mean_sd_values_do_not_wrap_and_sentences_that_quote_one_do():
    frame = pd.DataFrame({
        "cell": ["-131.51 ± 0.64", "90.34 ± 0.14 (3)", "-88.64 ± 0.25 (K = 500)", "-0.24 ± 0.63*",
                 "N+N at z1 = 5, z2 = 5: -10.1 ± 0.2 points (3 paired runs); 100 M2 epochs", "plain words"],
    }, index=pd.Index(["a", "b", "c", "d", "e", "f"], name="row"))
    nowrap = _nowrap_cells(table(frame))
    assert nowrap == ["-131.51 ± 0.64", "90.34 ± 0.14 (3)", "-88.64 ± 0.25 (K = 500)", "-0.24 ± 0.63*"]


def test_a_missing_value_is_refused():
    with pytest.raises(ValueError, match="missing values"):
        table(pd.DataFrame({"x": [1.0, float("nan")]}))
