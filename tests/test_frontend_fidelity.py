"""Classes of real-model code through the importer: each model is imported, verified,
round-tripped through text, lowered, loads the source state_dict (strict), and matches the
source's outputs and parameter gradients at two bindings of every symbol.

The hand-written modules (tests/class_models.py) each stand for one way architectures are
written; MobileNetV2 (in-place dropout and ReLU6), Swin with dynamic height and width and
Mixtral come from transformers (examples/models.py)."""

from __future__ import annotations

import class_models
import pytest
import torch
from class_models import FACTORIES, fresh
from frontend_util import compare_lowered, load_models, op_names, text_round_trip, verify_clean

from graphsynth.diagnostics import FrontendError
from graphsynth.frontend.importer import import_torch

models = load_models()


@pytest.mark.parametrize("name", FACTORIES)
def test_architecture_class_round_trips_and_matches(name: str) -> None:
    model, inputs, dyn, bindings = getattr(class_models, name)()
    module = import_torch(model, inputs, dyn)
    verify_clean(module)
    text_round_trip(module)
    compare_lowered(model, module, lambda b: fresh(inputs, dyn, b, sum(b.values())), bindings, grads=True)


def test_fft_mixing_keeps_its_complex_intermediate() -> None:
    """FNet's token mixing imports as a transform over (S, hidden) with a complex result and its
    real part, with the symbols kept, and reads back from MLIR syntax."""
    from graphsynth.cli import parse_mlir

    model, inputs, dyn, _ = class_models.fourier_mixing()
    module = import_torch(model, inputs, dyn)
    text = text_round_trip(module)
    assert "c64[B, S, 8] = fft(" in text and "dims=[-2, -1]" in text and "= real(" in text
    assert text_round_trip(parse_mlir(str(module), "mix.mlir")) == text


def test_size_as_value_stays_symbolic() -> None:
    """x * S and arange(S) / S: the size is a 0-d tensor made from the symbol, never the
    example's 5."""
    model, inputs, dyn, _ = class_models.size_as_value()
    text = text_round_trip(import_torch(model, inputs, dyn))
    assert "arange(start=S, end=S+1" in text
    assert ", 5]" not in text and "[5," not in text


def test_detach_is_kept() -> None:
    """detach_ stops the gradient in the lowered module as it does in the model."""
    model, inputs, dyn, _ = class_models.in_place()
    assert "detach" in op_names(import_torch(model, inputs, dyn))


def test_inplace_arguments_follow_the_functional_schema() -> None:
    """Every in-place ATen op whose functional twin has a handler maps its arguments onto the
    twin's names, position by position (the class behind dropout_'s KeyError 'input')."""
    from graphsynth.frontend.handlers import HANDLERS, functional_args

    checked = 0
    for base in list(HANDLERS):
        packet = getattr(torch.ops.aten, base + "_", None)
        if packet is None:
            continue
        for overload in packet.overloads():
            op = getattr(packet, overload)
            args = {a.name: object() for a in op._schema.arguments}
            mapped = functional_args(op, base, args)
            twin = getattr(getattr(torch.ops.aten, base), overload, None)
            if twin is not None and len(twin._schema.arguments) == len(args):
                assert list(mapped) == [a.name for a in twin._schema.arguments], op
                assert list(mapped.values()) == list(args.values())
                checked += 1
    assert checked > 40


def test_mobilenet_v2_with_inplace_dropout() -> None:
    model, inputs, dyn = models.mobilenet_v2()
    module = import_torch(model, inputs, dyn)
    verify_clean(module)
    text_round_trip(module)
    compare_lowered(model, module, lambda b: models.fresh_inputs(inputs, b, dyn, seed=b["B"]), ({"B": 2}, {"B": 3}), grads=True)


@pytest.mark.long
def test_swin_with_dynamic_height_and_width() -> None:
    """Window partition pads by symbolic amounts; H and W stay symbolic through patch merging."""
    model, inputs, dyn = models.swin()
    module = import_torch(model, inputs, dyn)
    verify_clean(module)
    text = text_round_trip(module)
    assert "H16" in text and "W16" in text
    compare_lowered(model, module, lambda b: models.fresh_inputs(inputs, b, dyn, seed=b["B"]),
                    ({"B": 2, "H16": 2, "W16": 3}, {"B": 3, "H16": 3, "W16": 1}), grads=True, tol=1e-4)


def test_mixtral_imports_and_matches() -> None:
    """Mixtral (batched_mm experts: top-2 routing by topk, per-token expert-weight gathers, bmm)
    imports, verifies, round-trips and matches, gradients included, at two bindings."""
    model, inputs, dyn = models.mixtral()
    module = import_torch(model, inputs, dyn)
    assert any(op.name == "gs.topk" for op in module.walk())
    verify_clean(module)
    text_round_trip(module)
    compare_lowered(model, module, lambda b: models.fresh_inputs(inputs, b, dyn, seed=b["S"]),
                    ({"B": 2, "S": 8}, {"B": 3, "S": 5}), grads=True, tol=1e-4)


def test_unprovable_size_assertion_is_an_error() -> None:
    """A size that depends on a condition holding only for some values (whether ceil_mode's
    last window starts in the padding depends on H's parity here) is refused with the dim
    named (by the shape rule, or GS620 for the assertion export deferred), never imported as
    if it held everywhere."""

    class CeilPad(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.max_pool2d(x, 2, 2, padding=1, ceil_mode=True)

    with pytest.raises(FrontendError) as info:
        import_torch(CeilPad(), (torch.randn(1, 2, 8, 8),), {"x": {2: "H"}})
    (d,) = info.value.diagnostics
    assert d.code in ("GS602", "GS620", "GS603"), d.render()
    assert "H" in d.message and d.fix


def test_progress_only_on_a_terminal() -> None:
    """Stages and op counts go to a terminal; a pipe or file gets nothing."""
    import io

    from graphsynth.frontend.importer import Progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    quiet, tty = io.StringIO(), Tty()
    for stream in (quiet, tty):
        p = Progress("M", stream)
        p.stage("converting 12 ATen ops")
        p.done("9 gs ops")
    assert quiet.getvalue() == ""
    assert "converting 12 ATen ops" in tty.getvalue() and "9 gs ops" in tty.getvalue()
