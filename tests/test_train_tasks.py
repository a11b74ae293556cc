"""Tasks (TOML, shipped tasks, data made offline) and the low-fidelity trainer's outcomes."""

from __future__ import annotations

import numpy as np
import pytest
from synth_util import HOG_IR, NAN_IR, tiny_task

from graphsynth.train import TaskError, builtin_tasks, check_hp, load_task, train_candidate


def test_shipped_tasks_load_and_fit_their_data():
    assert {"digits", "mnist1d", "sequence"} <= set(builtin_tasks())
    for name, shape, classes in (("digits", (64,), 10), ("sequence", (12, 8), 4), ("mnist1d", (40,), 10)):
        t = load_task(name)
        ds = t.dataset()
        assert ds.feature_shape == shape and ds.classes == classes
        assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
        # splits are disjoint and deterministic
        assert len(ds.x_train) + len(ds.x_val) > len(ds.x_test) > 0
        assert load_task(name).dataset() is ds  # memoised per process


def test_mnist1d_is_generated_locally_never_downloaded(monkeypatch):
    import mnist1d.data

    def no_download(*a, **k):
        raise AssertionError("the download path must not be used")

    monkeypatch.setattr(mnist1d.data, "get_dataset", no_download)
    from graphsynth.train.data import _mnist1d

    ds = _mnist1d({"num_samples": 400}, None)
    assert ds.x_train.shape[1] == 40 and len(ds.x_test) == 80


def test_sequence_labels_follow_the_rule():
    ds = load_task("sequence").dataset()
    tokens = ds.x_test.argmax(axis=2)
    for row, y in zip(tokens[:200], ds.y_test[:200]):
        counts = [(row == c).sum() for c in range(4)]
        best = max(counts)
        firsts = [list(row).index(c) if c in row else 99 for c in range(4)]
        winners = [c for c in range(4) if counts[c] == best]
        assert y == min(winners, key=lambda c: firsts[c])


@pytest.mark.parametrize(
    "edit, code, words",
    [
        (("[budget]", "[budget]\nmax_parms = 3"), "GS902", "max_parms"),
        (('seed = "digits.gs"', 'seed = "missing.gs"'), "GS903", "missing.gs"),
        (("max_params = 20000", 'max_params = 20000\nmax_flops = "10*Q"'), "GS905", "Q"),
        (("max_params = 20000", 'max_params = 20000\nmax_flops = "10*"'), "GS905", "max_flops"),
        (("epochs = 1", "epochs = 0"), "GS902", "epochs"),
        (('source = "digits"', 'source = "imagenet"'), "GS904", "imagenet"),
        (("lr = 0.01", 'lr = "fast"'), "GS902", "lr"),
    ],
)
def test_bad_task_files_are_diagnostics(tmp_path, edit, code, words):
    path = tiny_task(tmp_path)
    path.write_text(path.read_text().replace(*edit, 1))
    with pytest.raises(TaskError) as ei:
        t = load_task(path)
        t.dataset()
    d = ei.value.diagnostics[0]
    assert d.code == code and words in d.message + (d.got or ""), d.render()


def test_seed_that_does_not_fit_the_data_is_refused(tmp_path):
    path = tiny_task(tmp_path)
    (tmp_path / "digits.gs").write_text((tmp_path / "digits.gs").read_text().replace("f32[B, 64]", "f32[B, 65]", 1)
                                        .replace("f32[32, 64]", "f32[32, 65]"))
    with pytest.raises(TaskError) as ei:
        load_task(path)
    assert ei.value.diagnostics[0].code == "GS903" and "65" in ei.value.diagnostics[0].message
    with pytest.raises(TaskError) as ei:
        load_task("digitz")
    assert ei.value.diagnostics[0].code == "GS901" and "digits" in (ei.value.diagnostics[0].fix or "")


def test_hp_schema():
    assert check_hp({"lr": 1e-3})["lr"] == 1e-3
    for bad in ({"optimizer": "lion"}, {"batch_size": 0}, {"lr": float("nan")}, {"learning_rate": 1}):
        with pytest.raises(TaskError):
            check_hp(bad)


def test_training_is_deterministic_and_seeded(tmp_path):
    task = load_task(tiny_task(tmp_path))
    a = train_candidate(task, task.seed_ir, seed=1)
    b = train_candidate(task, task.seed_ir, seed=1)
    c = train_candidate(task, task.seed_ir, seed=2)
    assert a.status == "trained" and a.metrics == b.metrics and a.curve == b.curve
    assert a.metrics["train_loss"] != c.metrics["train_loss"]
    assert 0 < a.metrics["val_accuracy"] <= 1 and a.metrics["steps"] == 8


def test_failures_are_recorded_not_raised(tmp_path):
    task = load_task(tiny_task(tmp_path))
    nan = train_candidate(task, NAN_IR)
    assert nan.status == "failed" and nan.diagnostics[0].code == "GS910" and "nan" in nan.diagnostics[0].message
    hog = train_candidate(task, HOG_IR)
    assert hog.status == "failed" and hog.diagnostics[0].code == "GS911" and "MiB" in hog.diagnostics[0].message
    bad = train_candidate(task, "graph G(x: f32[B, 64]) -> f32[B, 10] { return %9 }")
    assert bad.status == "failed" and bad.diagnostics[0].code == "GS913"
    wrong = train_candidate(task, task.seed_ir.replace("f32[B, 10]", "f32[B, 9]").replace("f32[10, 32]", "f32[9, 32]")
                            .replace("head.bias: f32[10]", "head.bias: f32[9]"))
    assert wrong.status == "failed" and wrong.diagnostics[0].code == "GS909"
    task.budget.time_per_candidate_s = 1e-6
    slow = train_candidate(task, task.seed_ir)
    assert slow.status == "failed" and slow.diagnostics[0].code == "GS912"


def test_init_attribute_is_respected_and_default_is_fan_in(tmp_path):
    import torch

    import graphsynth as gs
    from graphsynth.train.trainer import initialise

    task = load_task(tiny_task(tmp_path))
    text = task.seed_ir.replace("param head.bias: f32[10]", 'param head.bias: f32[10] init="ones"')
    m = gs.parse_ir(text)
    net = gs.lower(m)
    initialise(net, m)
    sd = net.state_dict()
    assert torch.all(sd["head.bias"] == 1) and torch.all(sd["l1.fc.bias"] == 0)
    w = sd["l1.fc.weight"]
    assert w.abs().max() <= 1 / 8 + 1e-6 and w.std() > 0.03  # uniform(+-1/sqrt(64))


def test_loss_hook_replaces_cross_entropy(tmp_path):
    import torch.nn.functional as F

    task = load_task(tiny_task(tmp_path))
    calls = []

    def smoothed(logits, targets):
        calls.append(len(targets))
        return F.cross_entropy(logits, targets, label_smoothing=0.1)

    r = train_candidate(task, task.seed_ir, seed=1, loss_fn=smoothed)
    base = train_candidate(task, task.seed_ir, seed=1)
    assert r.status == "trained" and len(calls) == r.metrics["steps"] == 8
    assert r.metrics["train_loss"] != base.metrics["train_loss"]


def test_digits_read_from_the_shipped_file_equal_load_digits():
    """The digits task reads scikit-learn's data file without importing scikit-learn (most of a
    second per process); what it reads is exactly what ``load_digits`` returns."""
    from sklearn.datasets import load_digits

    from graphsynth.train.data import digits_arrays

    pixels, labels = digits_arrays()
    reference = load_digits()
    assert np.array_equal(pixels, reference.data) and np.array_equal(labels, reference.target)
    assert pixels.shape == (1797, 64) and set(labels.tolist()) == set(range(10))
