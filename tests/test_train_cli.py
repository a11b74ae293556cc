"""graphsynth-train (fit, report, diagnose, design), the training archive, loss graphs, the
schedule, the activation question, the tuning stage of a search, and the docs' snippets."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from synth_util import tiny_task
from train_util import fenced, short_task

from graphsynth.dialects import gs as dialect
from graphsynth.llm.fakeserver import FakeServer, Step
from graphsynth.llm.proposer import AnthropicProposer
from graphsynth.train import builtin_losses, fit, load_loss
from graphsynth.train.activations import is_activation
from graphsynth.train.cli import main
from graphsynth.train.loss import check_loss_text
from graphsynth.train.store import TrainStore
from graphsynth.train.trainer import lr_factor

ROOT = Path(__file__).resolve().parents[1]


def test_fit_report_and_diagnose_from_the_shell(tmp_path, capsys, monkeypatch):
    db = tmp_path / "runs.sqlite"
    assert main(["fit", "digits", "--set", "lr=0.3", "--set", "epochs=4", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "warning[GS931]: divergence" in out and f"{db}:1" in out
    assert main(["fit", "digits", "--hp", '{"epochs": 2}', "--loss", "label_smoothing", "--db", str(db)]) == 0
    assert "no finding" in capsys.readouterr().out
    assert main(["report", f"{db}:1", "--out", str(tmp_path / "rep")]) == 0
    assert "report.md" in capsys.readouterr().out
    files = sorted(p.name for p in (tmp_path / "rep").iterdir())
    assert files == ["curves.png", "findings.json", "grad_norms.png", "report.md", "update_ratios.png"]
    assert [f["kind"] for f in json.loads((tmp_path / "rep" / "findings.json").read_text())][0] == "divergence"
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "GS931 divergence" in md and "AUTOTRAINER" in md and "Monitor overhead" in md
    for name in ("curves.png", "grad_norms.png", "update_ratios.png"):
        assert (tmp_path / "rep" / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    # a diagnosis through the SDK, stored with run 2 (the file's last run)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    doc = {"summary": "healthy", "problems": [], "changes": []}
    with FakeServer([Step(text=fenced(doc))]) as srv:
        assert main(["diagnose", str(db), "--base-url", srv.url, "--transcript", str(tmp_path / "d.jsonl")]) == 0
    assert json.loads(capsys.readouterr().out) == doc
    with TrainStore(db) as store:
        assert store.ids() == [1, 2] and store.diagnoses(2)[0]["transcript"] == str(tmp_path / "d.jsonl")


@pytest.mark.parametrize("argv, code, words", [
    (["fit", "digits", "--set", "lr=fast"], 1, "GS902"),
    (["fit", "digits", "--set", "optimizer=lion"], 1, "GS902"),
    (["fit", "digits", "--loss", "hinge"], 1, "GS920"),
    (["fit", "nope"], 1, "GS901"),
    (["fit", "digits", "--arch", "/nonexistent/a.gs"], 2, "GS001"),
    (["report", "/nonexistent/r.sqlite", "--out", "x"], 1, "GS926"),
])
def test_bad_inputs_are_diagnostics(argv, code, words, capsys):
    assert main(argv) == code
    assert words in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["fit", "digits", "--hp", "{lr"], ["fit", "digits", "--hp", "[1]"], ["fit", "digits", "--set", "lr"],
                                  ["design", "digits", "--budget", "0"], ["diagnose", "x.sqlite", "--proposer", "replay"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and "error: argument" in capsys.readouterr().err


def test_not_an_archive_and_a_missing_run(tmp_path, capsys):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    assert main(["report", str(junk), "--out", str(tmp_path / "o")]) == 1
    assert "GS926" in capsys.readouterr().err
    db = tmp_path / "runs.sqlite"
    fit(short_task(1), db=db)
    assert main(["report", f"{db}:7", "--out", str(tmp_path / "o")]) == 1
    assert "no run 7 (runs 1-1)" in capsys.readouterr().err
    blocked = tmp_path / "file"
    blocked.write_text("x")
    assert main(["report", str(db), "--out", str(blocked / "sub")]) == 1
    assert "GS927" in capsys.readouterr().err


def test_store_round_trip(tmp_path):
    db = tmp_path / "runs.sqlite"
    run = fit("digits", None, {"lr": 0.3, "epochs": 3}, db=db)
    with TrainStore(db) as store:
        back = store.get(run.id)
    assert back.metrics == run.metrics and back.hp == run.hp and back.meta["modules"] == run.meta["modules"]
    assert {k: (s.steps, s.values) for k, s in back.curves.items()} == {k: (s.steps, s.values) for k, s in run.curves.items()}
    assert [f.to_dict() for f in back.findings()] == [f.to_dict() for f in run.findings()]
    conn = sqlite3.connect(db)
    stored = json.loads(conn.execute("SELECT findings FROM train_runs WHERE id = ?", (run.id,)).fetchone()[0])
    assert stored == [f.to_dict() for f in run.findings()]


def test_design_baselines_from_the_shell(tmp_path, capsys):
    assert main(["design", str(tiny_task(tmp_path)), "--method", "optuna", "--budget", "3", "--db", str(tmp_path / "o.sqlite")]) == 0
    out = capsys.readouterr().out
    assert out.count("| tpe |") == 2 and "| 0" in out and "best: trial #" in out
    assert main(["design", str(tiny_task(tmp_path)), "--method", "default", "--budget", "2"]) == 0
    assert "seed 1" in capsys.readouterr().out


def test_shipped_losses_verify_and_match_torch():
    assert {"cross_entropy", "label_smoothing", "focal", "confidence_penalty"} <= set(builtin_losses())
    gen = torch.Generator().manual_seed(0)
    logits, y = torch.randn(16, 10, generator=gen), torch.randint(0, 10, (16,), generator=gen)
    fns = {n: load_loss(n, 10).fn() for n in builtin_losses()}
    assert torch.allclose(fns["cross_entropy"](logits, y), F.cross_entropy(logits, y), atol=1e-6)
    assert torch.allclose(fns["label_smoothing"](logits, y), F.cross_entropy(logits, y, label_smoothing=0.1), atol=1e-6)
    logp = F.log_softmax(logits, 1).gather(1, y[:, None])
    assert torch.allclose(fns["focal"](logits, y), -((1 - logp.exp()) ** 2 * logp).mean(), atol=1e-6)
    p = F.softmax(logits, 1)
    want = F.cross_entropy(logits, y) - 0.1 * (-(p * p.log()).sum(1)).mean()
    assert torch.allclose(fns["confidence_penalty"](logits, y), want, atol=1e-5)


@pytest.mark.parametrize("edit, code, words", [
    (lambda t: t.replace("-> f32[]", "-> f32[B]").replace("%loss: f32[] = neg(%mean)", "%loss: f32[B] = neg(%r)").replace(
        "%mean: f32[] = mean(%picked)", "%r: f32[B] = squeeze(%picked, dims=[1])\n  %mean: f32[] = mean(%picked)"), "GS924", "f32 scalar"),
    (lambda t: t.replace("targets: i64[B]", "targets: f32[B]").replace("%t: i64[B, 1]", "%t: f32[B, 1]"), None, ""),
    (lambda t: t.replace("{\n", "{\n  param w: f32[3]\n", 1), "GS924", "parameters"),
    (lambda t: t.replace("[B", "[8"), "GS924", "fixed batch dim 8"),
    (lambda t: t.replace("%loss: f32[] = neg(%mean)", "%z: f32[] = mul(%mean, 0.0)\n  %loss: f32[] = add(%z, 1.0)"), "GS925", "depend on the logits"),
    (lambda t: t.replace("%loss: f32[] = neg(%mean)", "%big: f32[B, 100000, 1000] = full(shape=[B, 100000, 1000], value=0.0, dtype=f32)\n"
                         "  %loss: f32[] = neg(%mean)"), "GS925", "MiB"),
])
def test_loss_graphs_that_cannot_be_losses(edit, code, words):
    base = (ROOT / "graphsynth" / "train" / "losses" / "cross_entropy.gs").read_text()
    lg, diags = check_loss_text(edit(base), 10)
    assert lg is None and diags
    if code is not None:
        assert diags[0].code == code and words in diags[0].message, diags[0].render()


def test_fit_with_a_loss_graph_and_a_schedule(tmp_path):
    path = tmp_path / "focal.gs"
    path.write_text((ROOT / "graphsynth" / "train" / "losses" / "focal.gs").read_text())
    run = fit(short_task(3), None, {"schedule": "cosine", "warmup_steps": 5, "grad_clip": 1.0}, loss=path)
    assert run.status == "trained" and run.loss_name == "focal" and "Focal" in run.loss
    lr = run.curves["lr"].values
    base = run.hp["lr"]
    assert lr[0] == pytest.approx(base / 5) and max(lr) == pytest.approx(base, rel=0.02) and lr[-1] < 0.01 * base
    cfg = {"schedule": "step", "warmup_steps": 0}
    assert [lr_factor(cfg, s, 100) for s in (0, 49, 50, 74, 75, 99)] == [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    assert lr_factor({"schedule": "linear"}, 50, 100) == pytest.approx(0.5)


def test_activations_are_asked_of_the_op():
    def op(name):
        cls = dialect.OPS[name]
        return cls.__new__(cls)

    assert all(is_activation(op(n)) for n in ("relu", "gelu", "silu", "tanh", "sigmoid", "leaky_relu", "softplus", "hardtanh", "linear_act"))
    assert not any(is_activation(op(n)) for n in ("exp", "log", "neg", "identity", "dropout", "cast", "round", "sign", "add", "linear",
                                                  "softmax", "layer_norm", "reciprocal", "sqrt"))

    # A user's op class answers through the same trait.
    from xdsl.irdl import IRDLOperation, irdl_op_definition, traits_def

    from graphsynth.dialects.traits import Activation

    @irdl_op_definition
    class UserActivation(IRDLOperation):
        name = "user.act"
        traits = traits_def(Activation())

    assert is_activation(UserActivation.__new__(UserActivation))


def test_search_with_a_tuning_stage(tmp_path, monkeypatch, capsys):
    from graphsynth.synth.cli import main as synth_main
    from graphsynth.synth.tune import tune

    task = tiny_task(tmp_path)
    db = tmp_path / "run.sqlite"
    assert synth_main(["run", str(task), "--proposer", "evolution", "--budget", "2", "--db", str(db), "--executor", "inline",
                       "--no-progress", "--tune", "1", "--tune-method", "optuna", "--tune-budget", "2"]) == 0
    assert "tuned #" in capsys.readouterr().out
    with TrainStore(db) as store:
        (entry,) = json.loads(sqlite3.connect(db).execute("SELECT value FROM meta WHERE key='tune'").fetchone()[0])
        assert len(store.ids(candidate=entry["candidate"])) == 2 and entry["after"] >= entry["default"]
    # the designer on the next best candidate, through the SDK; the first stays tuned
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    replies = [fenced({"hp": {"lr": 0.02}, "rationale": "r"})]
    with FakeServer([Step(text=r) for r in replies]) as srv:
        entries = tune(db, 2, 2, proposer=AnthropicProposer(base_url=srv.url, max_retries=0, timeout=20), diagnose=False)
        asked = srv.request_texts()
    assert len(entries) == 2 and entries[1]["method"] == "designer" and entries[1]["trainings"] == 2
    assert len(asked) == 1 and "design the training configuration" in asked[0]
    assert entries[1]["candidate"] != entries[0]["candidate"]
    from graphsynth.synth import Archive

    assert len(Archive(db).candidates("trained")) == 2  # the search's own rows are untouched


def test_the_monitor_degrades_to_what_it_can_read():
    from graphsynth.train.record import Monitor

    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    m = Monitor(every=1)
    m.on_start(net, None, opt)  # not a lowered graph: no per-module statistics
    assert [d.code for d in m.diagnostics] == ["GS928"] and m.diagnostics[0].severity == "warning"
    loss = net(torch.randn(8, 4)).pow(2).sum()
    loss.backward()
    m.on_backward(1, net, opt)
    opt.step()
    m.on_step(1, float(loss.detach()), net, opt)
    assert set(m.curves) >= {"loss", "lr", "grad_norm", "grad_norm/0", "grad_norm/2", "update_ratio/0.weight"}


@pytest.mark.parametrize("argv", [["--budget", "0"], ["--tasks", "digits,nope"], ["--skip", "everything"], ["--fp-seeds", "x"]])
def test_the_bench_refuses_bad_arguments(argv, capsys):
    import designer as bench

    with pytest.raises(SystemExit) as e:
        bench.main(argv)
    assert e.value.code == 2 and "error: argument" in capsys.readouterr().err


def test_a_tuning_stage_without_a_key_fails_before_the_search(tmp_path, monkeypatch, capsys):
    from graphsynth.synth.cli import main as synth_main

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    db = tmp_path / "run.sqlite"
    assert synth_main(["run", str(tiny_task(tmp_path)), "--budget", "2", "--db", str(db), "--executor", "inline", "--tune", "1"]) == 1
    assert "ANTHROPIC_API_KEY" in capsys.readouterr().err and not db.exists()
