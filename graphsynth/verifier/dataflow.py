"""Dependency order of a block's ops: the operands an op reads, and cycles among the ops.

The graph verifier reports uses before definitions; these helpers see through fused regions (an
op of a region counts as its region's op) and find a dependency cycle with an iterative
depth-first search, so that hostile IR of any depth costs no recursion.
"""

from __future__ import annotations

from xdsl.ir import Block, Operation


def operands_deep(op: Operation):
    yield from op.operands
    for region in op.regions:
        for inner in region.walk():
            yield from inner.operands


def ancestor_in(op: Operation | None, block: Block) -> Operation | None:
    while op is not None and op.parent_block() is not block:
        op = op.parent_op()
    return op


def find_cycle(block: Block, position: dict[Operation, int]) -> list[Operation] | None:
    """A dependency cycle among the block's ops (iterative DFS), or None."""
    deps: dict[Operation, list[Operation]] = {}
    for op in position:
        ds = []
        for v in operands_deep(op):
            if isinstance(v.owner, Operation):
                top = ancestor_in(v.owner, block)
                if top is not None and top is not op:
                    ds.append(top)
        deps[op] = ds
    color: dict[Operation, int] = {}
    for root in position:
        if root in color:
            continue
        stack = [(root, iter(deps[root]))]
        path = [root]
        color[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                color[node] = 2
                stack.pop()
                path.pop()
                continue
            c = color.get(nxt, 0)
            if c == 1:
                return path[path.index(nxt) :][::-1]
            if c == 0:
                color[nxt] = 1
                stack.append((nxt, iter(deps[nxt])))
                path.append(nxt)
    return None
