"""Table 3's anchor read against the faithful port's curve and Kingma's number."""

import math

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest

from hvae_lib.experiments import table3


def test_port_accuracy_hits_its_points_and_interpolates_in_log_epoch():
    for epoch, accuracy in table3.PORT_CURVE.items():
        assert table3.port_accuracy(epoch) == pytest.approx(accuracy)
    # Halfway between 200 and 300 epochs in log(epoch) is sqrt(200 * 300): halfway in accuracy.
    assert table3.port_accuracy(math.sqrt(200 * 300)) == pytest.approx((91.9 + 94.9) / 2)
    with pytest.raises(ValueError, match="epochs 10-3000"):
        table3.port_accuracy(5000)


def _curves(final):
    epochs = [5, 100, 200]
    return pd.DataFrame({run: [60.0, 85.0, value] for run, value in enumerate(final)}, index=pd.Index(epochs, name="epoch"))


def test_anchor_reading_gives_the_offset_from_the_port_and_its_projection(monkeypatch):
    monkeypatch.setattr(table3, "anchor_curves", lambda profile, runs: _curves([91.0, 92.0, 93.0]))
    reading = table3.anchor_reading("cpu", pd.DataFrame())
    offset = 92.0 - 91.9
    assert "After 200 M2 epochs the anchor reaches 92.00 ± 1.00% (3 runs)" in reading
    assert f"a difference of {offset:+.2f} points" in reading
    assert f"{96.55 + offset:.1f}% at 1000 epochs and {97.20 + offset:.1f}% at 3000" in reading
    # The evaluated epoch nearest three quarters of the way (150) is 100: 85% then, 92% at the end.
    assert reading.endswith("Between epochs 100 and 200 its mean rose by 7.00 points.")


def test_anchor_without_runs_says_so_and_still_draws(monkeypatch):
    monkeypatch.setattr(table3, "anchor_curves", lambda profile, runs: pd.DataFrame())
    assert table3.anchor_reading("cpu", pd.DataFrame()) == "The anchor has not run under this profile yet."
    figure = table3.anchor_figure("cpu", pd.DataFrame())
    ax = figure.axes[0]
    assert ax.get_xlabel() == "M2 epoch" and ax.get_ylabel() == "test accuracy (%)"


def test_anchor_table_names_both_budgets_before_a_run():
    runs = pd.DataFrame(columns=["configuration", "z1", "z2", "run", "test accuracy", "epochs"])
    table = table3.anchor_table("cpu", runs)
    row = table.loc["this book"]
    assert row["test accuracy (%)"] == "not yet run"
    assert row["epochs of M1"] == str(table3.KINGMA_M1["cpu"].schedule.max_epochs)
    assert row["epochs of M2"] == str(table3.KINGMA_M2["cpu"].epochs)
    assert not table.isna().to_numpy().any()


def test_anchor_reading_outside_the_ports_epochs_gives_no_offset(monkeypatch):
    short = pd.DataFrame({0: [50.0, 61.0]}, index=pd.Index([1, 2], name="epoch"))
    monkeypatch.setattr(table3, "anchor_curves", lambda profile, runs: short)
    assert table3.anchor_reading("smoke", pd.DataFrame()) == "After 2 M2 epochs the anchor reaches 61.00% (1 run); the port reports no accuracy after 2 epochs."
