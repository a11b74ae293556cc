"""Producers, consumers, neighbourhoods, the output cone and module interfaces, on a graph whose
answers can be read off the text."""

from __future__ import annotations

import pytest

from graphsynth.grammar.parser import parse_ir
from graphsynth.query import Interface, QueryError, consumers, interface, neighbours, output_cone, producers, shape

G = """
graph N(x: f32[B, 8], y: f32[B, 8]) -> (f32[B, 8], f32[B, 8]) {
  param blk.fc.weight: f32[8, 8]
  param unused.weight: f32[3]
  module blk : Block {
    module blk.fc : Linear {
      %0: f32[B, 8] = linear(x, blk.fc.weight)
    }
    %1: f32[B, 8] = relu(%0)
    %2: f32[B, 8] = add(x, %1)
  }
  %3: f32[B, 8] = tanh(%2)
  %d: f32[B, 8] = neg(y)
  %4: f32[B, 8] = mul(%3, %1)
  return %4, %2
}
"""


@pytest.fixture(scope="module")
def m():
    return parse_ir(G)


def test_producers_and_consumers_of_a_value(m):
    assert producers(m, "%1").names() == ["%0"]
    p2 = producers(m, "%1", k=2)
    assert [(h.step.name, h.distance) for h in p2] == [("%0", 1), ("x", 2), ("blk.fc.weight", 2)]
    assert producers(m, "%1", k=2, params=False).names() == ["%0", "x"]
    c = consumers(m, "%0", k=2)
    assert [(h.step.name, h.distance) for h in c] == [("%1", 1), ("%2", 2), ("%4", 2)]
    both = neighbours(m, "%2", k=1)
    assert both.names("up") == ["x", "%1"] and both.names("down") == ["%3"]
    assert neighbours(m, "%2", k=0).names() == []
    assert str(both[0]) == "<-1 x @ <input>: f32[B, 8]"


def test_a_module_is_one_node(m):
    up = producers(m, "blk", k=1)
    assert up.names() == ["x", "blk.fc.weight"]  # nothing inside blk
    down = consumers(m, "blk", k=2)
    # blk's outputs are %2 (used by tanh, returned) and %1 (used by mul outside the block).
    assert [(h.step.name, h.distance) for h in down] == [("%3", 1), ("%4", 1)]
    assert consumers(m, "blk.fc", k=1).names() == ["%1"]


def test_bad_arguments(m):
    with pytest.raises(QueryError) as e:
        neighbours(m, "%1", k=-1)
    assert e.value.diagnostics[0].code == "GS705"
    with pytest.raises(QueryError) as e:
        neighbours(m, "%1", direction="sideways")
    assert e.value.diagnostics[0].code == "GS705"
    with pytest.raises(QueryError) as e:
        producers(m, "blk.nope")
    assert e.value.diagnostics[0].code == "GS701"


def test_output_cone_and_dead_values(m):
    cone = output_cone(m)
    assert cone.names() == ["x", "blk.fc.weight", "%0", "%1", "%2", "%3", "%4"]
    assert cone.dead_names() == ["y", "unused.weight", "%d"]
    assert output_cone(m, ["%2"]).names() == ["x", "blk.fc.weight", "%0", "%1", "%2"]
    assert "dead: %d @ <top>: f32[B, 8]" in cone.render()


def test_interfaces_with_types(m):
    i = interface(m, "blk")
    assert [s.name for s in i.inputs] == ["x"]
    assert [s.name for s in i.outputs] == ["%1", "%2"]
    assert [s.name for s in i.params] == ["blk.fc.weight"] and i.params[0].type == "f32[8, 8]"
    assert i.cls == "Block" and i.signature() == "module blk : Block(x) -> (%1: f32[B, 8], %2: f32[B, 8])"
    fc = interface(m, "blk.fc")
    assert [s.name for s in fc.inputs] == ["x"] and [s.name for s in fc.outputs] == ["%0"]
    assert fc.params[0].module == "blk.fc"
    d = i.to_dict()
    assert d["outputs"][1] == {"name": "%2", "module": "blk", "kind": "op", "type": "f32[B, 8]"}
    with pytest.raises(QueryError):
        interface(m, "%2")


def test_shape_of_values_and_sides_of_modules(m):
    s = shape(m, "%3")
    assert s.name == "%3" and s.type == "f32[B, 8]" and s.module == ""
    assert shape(m, "x").kind == "input"
    ins = shape(m, "blk:in")
    assert isinstance(ins, Interface) and [v.name for v in ins.inputs] == ["x"] and ins.outputs == []
    outs = shape(m, "blk:out")
    assert [v.name for v in outs.outputs] == ["%1", "%2"] and outs.inputs == [] and outs.params == []
    assert [v.name for v in shape(m, "return").inputs] == ["%4", "%2"]
