"""Known-answer tests of the training monitor and its rules on deliberately broken runs of the
shipped tasks, the false-positive rate on healthy runs, and each rule at its threshold."""

from __future__ import annotations

import math

import pytest
from synth_util import NAN_IR
from train_util import mlp, subset_task

from graphsynth.train import KINDS, THRESHOLDS, Finding, Series, TrainRun, fit, load_task, train_candidate
from graphsynth.train.rules import check


def kinds(run: TrainRun) -> set[str]:
    return {f.kind for f in run.findings()}


@pytest.mark.parametrize("task", ["digits", "mnist1d", "sequence"])
def test_learning_rate_100x_too_high_is_divergence_and_default_is_healthy(task):
    t = load_task(task)
    healthy = fit(t, seed=0)
    assert healthy.status == "trained" and healthy.findings() == []
    broken = fit(t, None, {"lr": t.train["lr"] * 100}, seed=0)
    found = {f.kind: f for f in broken.findings()}
    assert "divergence" in found
    d = found["divergence"]
    assert d.evidence["peak_loss"] > THRESHOLDS["loss_rise"].value * d.evidence["first_loss"]
    assert 1 <= d.steps[0] <= d.steps[1] <= broken.meta["steps"]
    assert d.change["hp"]["lr"] == pytest.approx(t.train["lr"] * 100 * 0.1)
    assert d.code == "GS931" and "GS931" in d.diagnostic().render()


def test_deep_sigmoid_stack_has_vanishing_gradients():
    run = fit("digits", mlp([32] * 6, "sigmoid"))
    (f,) = [f for f in run.findings() if f.kind == "vanishing_gradients"]
    assert f.modules == ["l0.fc", "head"]  # first and last layer, in data-flow order
    assert f.evidence["first_norm"] < THRESHOLDS["vanish_first"].value
    assert f.evidence["ratio_first_last"] < THRESHOLDS["vanish_ratio"].value
    # the same stack with ReLU is not
    assert "vanishing_gradients" not in kinds(fit("digits", mlp([32] * 6, "relu")))


def test_relu_units_pushed_dead_by_their_bias():
    run = fit("digits", mlp([32], "relu", offset=10.0))
    dead = [f for f in run.findings() if f.kind == "dead_units"]
    assert len(dead) == 1 and dead[0].modules == ["l0"] and dead[0].evidence["op"] == "relu"
    assert dead[0].evidence["dead_fraction"] == 1.0
    # the dead units explain the zero gradient of the first layer: no separate vanishing finding
    assert "vanishing_gradients" not in kinds(run)
    assert run.curves["grad_norm/l0.fc"].values[-1] == 0.0
    # a leaky unit does not die (its negative side still passes a gradient)
    assert "dead_units" not in kinds(fit("digits", mlp([32], "leaky_relu", offset=10.0)))


def test_big_model_on_a_small_subset_overfits():
    run = fit(subset_task(100), mlp([256, 256], "relu"), {"epochs": 60})
    (f,) = [f for f in run.findings() if f.kind == "overfitting"]
    assert f.evidence["train_accuracy"] == 1.0 and f.evidence["gap"] >= 0.07
    assert f.evidence["final_val_loss"] >= 1.1 * f.evidence["min_val_loss"]
    assert f.change["loss"] == "label_smoothing"


def test_healthy_runs_over_ten_seeds_give_no_finding():
    flagged = {seed: [str(f) for f in fit("digits", seed=seed).findings()] for seed in range(10)}
    assert flagged == {seed: [] for seed in range(10)}


def test_recording_does_not_change_training():
    t = load_task("digits")
    plain = train_candidate(t, t.seed_ir, seed=3, threads=1)
    run = fit(t, seed=3)
    assert run.metrics == plain.metrics
    every = run.meta["every"]
    assert run.curves["loss"].steps == list(range(1, run.meta["steps"] + 1))
    assert run.curves["grad_norm/head"].steps[:3] == [1, every, 2 * every]
    assert set(run.meta["params"].values()) == {"l1.fc", "head"} and run.meta["modules"] == ["l1.fc", "head"]
    assert run.meta["activations"] == {"%1": {"op": "relu", "module": "l1"}}
    assert len(run.curves["val_accuracy"]) == len(run.curves["train_accuracy"]) == t.train["epochs"]
    ratios = run.series("update_ratio")
    assert set(ratios) == {"l1.fc.weight", "l1.fc.bias", "head.weight", "head.bias"}
    assert all(0 < v < 1 for v in ratios["head.weight"].values)


def test_a_failed_run_keeps_its_curves_and_is_divergence():
    run = fit("digits", NAN_IR)
    assert run.status == "failed" and run.diagnostics[0].code == "GS910"
    assert not math.isfinite(run.curves["loss"].values[-1])
    (f,) = [f for f in run.findings() if f.kind == "divergence"]
    assert not math.isfinite(f.evidence["loss"])


# -- each rule at its threshold, on constructed series ------------------------------------------------


def run_of(curves: dict[str, tuple[list[int], list[float]]], modules=("a", "b"), **meta) -> TrainRun:
    c = {k: Series(list(s), list(v)) for k, (s, v) in curves.items()}
    m = {"modules": list(modules), "activations": {}, "steps": 100, "planned_steps": 100, **meta}
    return TrainRun("t", "trained", {}, c, {"lr": 0.01}, "", meta=m)


STEPS = list(range(1, 101, 10))


def grads(first: float, last: float) -> dict:
    return {"grad_norm/a": (STEPS, [first] * 10), "grad_norm/b": (STEPS, [last] * 10)}


@pytest.mark.parametrize("first, last, want", [
    (71.0, 1.0, {"exploding_gradients"}), (69.0, 1.0, set()),
    (0.9e-4, 1.0, {"vanishing_gradients"}), (0.9e-4, 0.05, set()), (1.1e-4, 1000.0, set()),
])
def test_gradient_ratio_thresholds(first, last, want):
    assert {f.kind for f in check(run_of(grads(first, last)))} == want


def test_a_gradient_condition_must_persist():
    s = list(range(1, 101, 10))
    blip = {"grad_norm/a": (s, [100.0] + [1.0] * 9), "grad_norm/b": (s, [1.0] * 10)}
    assert check(run_of(blip)) == []
    nonfinite = {"grad_norm/a": (s, [1.0, math.inf] + [1.0] * 8), "grad_norm/b": (s, [1.0] * 10)}
    assert [f.kind for f in check(run_of(nonfinite))] == ["exploding_gradients"]


def test_oscillation_plateau_slow_start_and_divergence_on_series():
    ev = list(range(10, 101, 10))
    zigzag = [0.5, 0.6, 0.5, 0.6, 0.5, 0.6, 0.5, 0.6, 0.5, 0.6]
    assert [f.kind for f in check(run_of({"val_accuracy": (ev, zigzag)}))] == ["oscillation"]
    assert check(run_of({"val_accuracy": (ev, [0.5, 0.52, 0.51, 0.53, 0.52, 0.54, 0.53, 0.55, 0.54, 0.56])})) == []
    flat = run_of({"val_accuracy": (ev, [0.1] * 10), "train_accuracy": (ev, [0.1] * 10)})
    assert [f.kind for f in check(flat)] == ["plateau"]
    steps = list(range(1, 101))
    slow = [2.3] * 40 + [2.3 - 2.0 * i / 60 for i in range(60)]
    assert [f.kind for f in check(run_of({"loss": (steps, slow)}))] == ["slow_start"]
    fast = [2.3 * 0.97 ** i for i in range(100)]
    assert check(run_of({"loss": (steps, fast)})) == []
    spike = [2.3, 2.3, 9.0, 9.0, 2.0] + [1.0] * 95
    (f,) = check(run_of({"loss": (steps, spike)}))
    assert f.kind == "divergence" and f.steps == (3, 4)
    assert check(run_of({"loss": (steps, [2.3, 4.5, 2.2] + [1.0] * 97)})) == []  # one step just under 2x: not


def test_findings_round_trip_and_render():
    f = Finding("plateau", (3, 9), ["m"], {"x": 1.5}, "do this", {"hp": {"lr": 0.1}})
    assert Finding.from_dict(f.to_dict()) == f
    text = str(f)
    assert text.startswith("warning[GS935]: plateau at steps 3-9 in m: x=1.5") and "help: do this" in text
    assert len({THRESHOLDS[k].source for k in THRESHOLDS if "AUTOTRAINER" in THRESHOLDS[k].source}) >= 5
    assert len(KINDS) == 8
