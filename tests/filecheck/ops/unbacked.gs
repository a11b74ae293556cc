// Data-dependent sizes: an unbacked symbol declared on the graph, defined by the op that names it
// in size=, printed as written, the same text back from MLIR generic syntax (where the
// declaration's fifth entry says "unbacked").
// RUN: graphsynth-opt %s | filecheck %s
// RUN: graphsynth-opt %s --emit=mlir | filecheck %s --check-prefix=MLIR
// RUN: graphsynth-opt %s -o %t.gs
// RUN: graphsynth-opt %s --emit=mlir | graphsynth-opt --input=mlir | diff %t.gs -

// CHECK-LABEL: graph Select(x: f32[B, 4], m: bool[B]) -> (f32[u0, 4], f32[u1], i64[u2, 2], f32[B, 4]) {
// CHECK-NEXT:   symbol u0: [0, inf] unbacked
// CHECK-NEXT:   symbol u1: [0, 64] step 2 unbacked
// CHECK-NEXT:   symbol u2: [0, inf] unbacked
// CHECK-NEXT:   %r: f32[u0, 4] = boolean_index(x, m, size=u0)
// CHECK-NEXT:   %pos: bool[B, 4] = gt(x, 0)
// CHECK-NEXT:   %s: f32[u1] = masked_select(x, %pos, size=u1)
// CHECK-NEXT:   %nz: i64[u2, 2] = nonzero(%pos, size=u2)
// CHECK-NEXT:   %i: i64[u2] = select(%nz, dim=1, index=0)
// CHECK-NEXT:   %v: f32[u2, 4] = index_select(x, %i, dim=0)
// CHECK-NEXT:   %a: f32[B, 4] = index_add(x, %i, %v, dim=0, alpha=0.5)
// CHECK-NEXT:   return %r, %s, %nz, %a

// MLIR: symbols = {{\[}}["u0", #builtin.int<0>, "inf", #builtin.int<1>, "unbacked"]
// MLIR: "gs.nonzero"(%{{.*}}) <{size = "u2"

graph Select(x: f32[B, 4], m: bool[B]) -> (f32[u0, 4], f32[u1], i64[u2, 2], f32[B, 4]) {
  symbol u0: [0, inf] unbacked
  symbol u1: [0, 64] step 2 unbacked
  symbol u2: [0, inf] unbacked
  %r: f32[u0, 4] = boolean_index(x, m, size=u0)
  %pos: bool[B, 4] = gt(x, 0)
  %s: f32[u1] = masked_select(x, %pos, size=u1)
  %nz: i64[u2, 2] = nonzero(%pos, size=u2)
  %i: i64[u2] = select(%nz, dim=1, index=0)
  %v: f32[u2, 4] = index_select(x, %i, dim=0)
  %a: f32[B, 4] = index_add(x, %i, %v, dim=0, alpha=0.5)
  return %r, %s, %nz, %a
}
