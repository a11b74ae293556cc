"""Mutations built from the passes, and structural de-duplication."""

from __future__ import annotations

import random

import pytest
from synth_util import HOG_IR

import graphsynth as gs
from graphsynth.synth.dedup import DedupIndex, fingerprint, jaccard
from graphsynth.synth.graphs import Inapplicable
from graphsynth.synth.mutations import MUTATIONS, crossover, mutate
from graphsynth.train import load_task


@pytest.mark.parametrize("task", ["digits", "sequence", "mnist1d"])
def test_random_walks_of_mutations_verify(task):
    seed = load_task(task).seed_ir
    kinds = set()
    for walk in range(6):
        rng = random.Random(walk)
        text = seed
        for _ in range(6):
            try:
                m, what = mutate(gs.parse_ir(text), rng)
            except Inapplicable:
                continue
            assert gs.verify(m) == [], what
            kinds.add(what.split(":")[0].split(" ")[0])
            new = gs.print_ir(m)
            assert gs.print_ir(gs.parse_ir(new)) == new  # the text form holds every edit
            text = new
    assert len(kinds) >= 4


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
def test_each_mutation_applies_somewhere_and_changes_the_graph(kind):
    seed = load_task("digits").seed_ir
    base = gs.parse_ir(seed)
    # a block of equal input and output types gives deepen/residual/remove a site
    grown = gs.run_pipeline(base, "insert-block{after=l1 before=head block=mlp hidden=16}")
    for start in (base, grown):
        try:
            m, what = MUTATIONS[kind][1](start.clone(), random.Random(0))
        except Inapplicable:
            continue
        assert gs.verify(m) == [], what
        assert fingerprint(m).wl_hash != fingerprint(start).wl_hash, what
        break
    else:
        pytest.fail(f"{kind} applied nowhere")


def test_resize_changes_both_layers():
    m, what = MUTATIONS["resize"][1](gs.parse_ir(load_task("digits").seed_ir), random.Random(3))
    text = gs.print_ir(m)
    new = int(what.rsplit("-> ", 1)[1])
    assert f"l1.fc.weight: f32[{new}, 64]" in text and f"head.weight: f32[10, {new}]" in text


def test_crossover_swaps_a_module_with_the_same_interface():
    seed = gs.parse_ir(load_task("digits").seed_ir)
    a = gs.run_pipeline(seed, "insert-block{after=l1 before=head block=mlp hidden=16 path=blk0}")
    b = gs.run_pipeline(seed, "insert-block{after=l1 before=head block=adapter hidden=8 path=blk0}")
    seen = set()
    for k in range(12):
        child, what = crossover(a.clone(), b, random.Random(k))
        assert gs.verify(child) == [], what
        h = fingerprint(child).wl_hash
        assert h != fingerprint(a).wl_hash, what
        seen.add(what.split(" replaced")[0])
        if "blk0 replaced by blk0" in what:
            text = gs.print_ir(child)
            assert "fc1" not in text and ".up.weight" in text, text
    assert "crossover: blk0" in seen
    with pytest.raises(Inapplicable):
        crossover(seed.clone(), gs.parse_ir(HOG_IR), random.Random(0))


def test_wl_hash_ignores_names_and_sees_structure():
    seed = load_task("digits").seed_ir
    renamed = seed.replace("%1", "%hidden").replace("l1.fc", "first.fc").replace("module l1 ", "module first ")
    f0, f1 = fingerprint(gs.parse_ir(seed)), fingerprint(gs.parse_ir(renamed))
    assert f0.wl_hash == f1.wl_hash and f0.shingles == f1.shingles
    swapped = fingerprint(gs.parse_ir(seed.replace("relu(%0)", "gelu(%0)")))
    assert swapped.wl_hash != f0.wl_hash and 0 < jaccard(f0.shingles, swapped.shingles) < 1
    wider = seed.replace("[32", "[48").replace(", 32]", ", 48]")
    assert fingerprint(gs.parse_ir(wider)).wl_hash != f0.wl_hash


def test_near_duplicates_are_confirmed_by_exact_jaccard():
    seed = gs.parse_ir(load_task("digits").seed_ir)
    big = gs.run_pipeline(seed, "insert-block{after=l1 before=head block=mlp hidden=16 path=a}")
    for prev, p in (("a", "b"), ("b", "c"), ("c", "d")):
        big = gs.run_pipeline(big, f"insert-block{{after=l1 before={prev} block=mlp hidden=16 path={p}}}")
    near = gs.parse_ir(gs.print_ir(big).replace("gelu(", "relu(", 1))
    f_big, f_near = fingerprint(big), fingerprint(near)
    sim = jaccard(f_big.shingles, f_near.shingles)
    assert 0.5 < sim < 1
    index = DedupIndex(threshold=sim - 0.01)
    index.add(7, f_big)
    match = index.check(f_near)
    assert match is not None and match.kind == "near" and match.other == 7 and match.similarity == pytest.approx(sim)
    strict = DedupIndex(threshold=min(1.0, sim + 0.01))
    strict.add(7, f_big)
    assert strict.check(f_near) is None
    assert strict.check(f_big).kind == "exact"


def test_insert_block_mixes_tokens_with_a_pool_on_sequence_edges():
    """On a [B, S, D] edge the block library includes the 1-d pooling token mixer; on a graph
    without one, the pool is never drawn (the other kinds still apply)."""
    from graphsynth.synth.mutations import insert_block

    seq = load_task("sequence").seed_ir
    pooled = []
    for k in range(16):
        m, what = insert_block(gs.parse_ir(seq), random.Random(k))
        assert gs.verify(m) == [], what
        if "insert-block pool" in what:
            pooled.append(gs.print_ir(m))
    assert pooled and all("avg_pool1d(" in t for t in pooled)
    flat = load_task("digits").seed_ir
    for k in range(16):
        assert "pool" not in insert_block(gs.parse_ir(flat), random.Random(k))[1]
