"""Structural de-duplication on the graph, not on its text.

A candidate becomes a directed graph (networkx): one node per graph input, parameter and op,
labelled by what it *is* — the op name, its attributes and literal arguments, its result types
(dtype and dims, symbolic dims as written), a parameter's type and initialiser — and one edge per
use, labelled by the operand position.  Value names, parameter keys and module paths are
presentation and are left out, so renaming never hides a duplicate.

- **Exact**: the Weisfeiler-Lehman hash of that graph (``nx.weisfeiler_lehman_graph_hash``, 3
  iterations).  Equal graphs always hash equal; WL is not a complete isomorphism test, so two
  different graphs may (rarely) collide, which at worst skips one candidate.  networkx changed the
  WL hash of directed graphs in 3.5, so the archive records the networkx version with its hashes.
- **Near**: the multiset of WL subgraph labels of every node at every depth
  (``nx.weisfeiler_lehman_subgraph_hashes``) is the candidate's shingle set; a MinHash LSH index
  (datasketch, 128 permutations) finds earlier candidates that are probably similar, and the exact
  Jaccard similarity of the shingle sets decides against ``threshold``.  LSH is probabilistic and
  misses pairs near its own threshold, so the index is built 0.1 below the decision threshold and
  every hit is confirmed exactly.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

WL_ITERATIONS = 3
NUM_PERM = 128
LSH_MARGIN = 0.1


@dataclass(frozen=True)
class Fingerprint:
    wl_hash: str
    shingles: frozenset[str]


def _label(op: Any) -> str:
    from graphsynth.dialects import gs

    if isinstance(op, gs.ParamOp):
        init = op.attributes.get("init")
        return f"{op.kind.data}:{op.results[0].type}:{getattr(init, 'data', '')}"
    props = sorted((k, str(v)) for k, v in op.properties.items() if k not in ("names", "scope"))
    types = ",".join(str(r.type) for r in op.results)
    inner = ""
    if op.regions:
        inner = "{" + ";".join(_label(o) for r in op.regions for b in r.blocks for o in b.ops) + "}"
    return f"{op.name}|{props}|{types}{inner}"


def to_networkx(module: Any) -> Any:
    """The labelled DiGraph of a module's graphs (see the module docstring)."""
    import networkx as nx

    from graphsynth.dialects import gs

    G = nx.DiGraph()
    ids: dict[Any, int] = {}
    n = 0
    for g in gs.graph_ops(module):
        for i, a in enumerate(g.body.block.args):
            G.add_node(n, label=f"input:{i}:{a.type}")
            ids[a] = n
            n += 1
        for op in g.body.block.ops:
            G.add_node(n, label=_label(op))
            for r in op.results:
                ids[r] = n
            for k, v in enumerate(op.operands):
                src = ids.get(v)
                if src is not None:
                    # parallel uses of one value (add(x, x)) keep their ports in one label
                    if G.has_edge(src, n):
                        G.edges[src, n]["port"] += f",{k}"
                    else:
                        G.add_edge(src, n, port=str(k))
            n += 1
    return G


def fingerprint(module: Any) -> Fingerprint:
    import warnings

    import networkx as nx

    G = to_networkx(module)
    with warnings.catch_warnings():  # the version note on directed hashes: the archive records the version
        warnings.filterwarnings("ignore", message="The hashes produced for directed graphs changed")
        return _fingerprint(nx, G)


def _fingerprint(nx: Any, G: Any) -> Fingerprint:
    h = nx.weisfeiler_lehman_graph_hash(G, node_attr="label", edge_attr="port", iterations=WL_ITERATIONS, digest_size=16)
    sub = nx.weisfeiler_lehman_subgraph_hashes(G, node_attr="label", edge_attr="port", iterations=WL_ITERATIONS,
                                               digest_size=8, include_initial_labels=True)
    counts: Counter[str] = Counter(x for hashes in sub.values() for x in hashes)
    return Fingerprint(h, frozenset(f"{x}#{k}" for x, c in counts.items() for k in range(c)))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def networkx_version() -> str:
    import networkx as nx

    return nx.__version__


@dataclass
class Match:
    kind: str  # "exact" | "near"
    other: int  # the candidate id it duplicates
    similarity: float


@dataclass
class DedupIndex:
    """Exact WL hashes and a MinHash-LSH index of shingle sets, keyed by candidate id."""

    threshold: float | None = 0.95
    exact: dict[str, int] = field(default_factory=dict)
    shingles: dict[int, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lsh: Any = None
        if self.threshold is not None:
            if not 0.0 < self.threshold <= 1.0:
                raise ValueError(f"near-duplicate threshold must be in (0, 1], got {self.threshold}")
            from datasketch import MinHashLSH

            self._lsh = MinHashLSH(threshold=max(0.05, self.threshold - LSH_MARGIN), num_perm=NUM_PERM)

    @staticmethod
    def _minhash(shingles: frozenset[str]) -> Any:
        from datasketch import MinHash

        m = MinHash(num_perm=NUM_PERM, seed=1)
        m.update_batch([s.encode() for s in sorted(shingles)])
        return m

    def check(self, fp: Fingerprint) -> Match | None:
        other = self.exact.get(fp.wl_hash)
        if other is not None:
            return Match("exact", other, 1.0)
        if self._lsh is None or not fp.shingles:
            return None
        best: Match | None = None
        for key in self._lsh.query(self._minhash(fp.shingles)):
            sim = jaccard(fp.shingles, self.shingles[key])
            if sim >= self.threshold and (best is None or sim > best.similarity or sim == best.similarity and key < best.other):
                best = Match("near", key, sim)
        return best

    def add(self, cid: int, fp: Fingerprint) -> None:
        self.exact.setdefault(fp.wl_hash, cid)
        if self._lsh is not None and cid not in self.shingles and fp.shingles:
            self.shingles[cid] = fp.shingles
            self._lsh.insert(cid, self._minhash(fp.shingles))

    def remove(self, cid: int, fp: Fingerprint) -> None:
        if self.exact.get(fp.wl_hash) == cid:
            del self.exact[fp.wl_hash]
        if self._lsh is not None and cid in self.shingles:
            self._lsh.remove(cid)
            del self.shingles[cid]
