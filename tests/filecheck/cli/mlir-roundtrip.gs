// --emit=mlir prints MLIR generic syntax (through xDSL); reading it back (chosen by the .mlir
// extension, or by --input=mlir) gives the identical gs text.
// RUN: graphsynth-opt %s -o %t.gs
// RUN: graphsynth-opt %s --emit=mlir -o %t.mlir
// RUN: graphsynth-opt %t.mlir -o %t.back.gs
// RUN: diff %t.gs %t.back.gs
// RUN: graphsynth-opt --input=mlir < %t.mlir > %t.stdin.gs
// RUN: diff %t.gs %t.stdin.gs
// RUN: graphsynth-opt %s --emit=mlir | filecheck %s --check-prefix=MLIR
// RUN: graphsynth-opt %examples/transformer_block.gs -o %t.block.gs
// RUN: graphsynth-opt %examples/transformer_block.gs --emit=mlir -o %t.block.mlir
// RUN: graphsynth-opt %t.block.mlir | diff %t.block.gs -

// MLIR: "builtin.module"() ({
// MLIR:   "gs.graph"() <{
// MLIR-SAME: sym_name = "Names"
// MLIR-NEXT: ^bb0(%{{.*}}: !gs.tensor<f32, ["B", 4]>, %{{.*}}: !gs.tensor<f32, ["S+1", 4]>):
// MLIR-NEXT:   "gs.param"() <{name = "0.weight", kind = "param"}> : () -> !gs.tensor<f32, [4, 4]>
// MLIR-NEXT:   "gs.linear"(
// MLIR-SAME: names = ["0"], scope = "0"
// MLIR:        "gs.mul"({{.*}}) <{rhs = true,
// MLIR:        "gs.reshape"({{.*}}) <{shape = ["S+1", #builtin.int<-1>]
// MLIR-NEXT:   "gs.return"(

graph Names(x: f32[B, 4], y: f32[S+1, 4]) -> (f32[B, 4], f32[S+1, 4]) {
  param 0.weight: f32[4, 4]
  module 0 : Linear {
    %0: f32[B, 4] = linear(x, 0.weight)
  }
  %1: f32[B, 4] = clamp(%0, min=-inf, max=6.0)
  %2: bool[B, 4] = gt(%1, 0.5)
  %3: f32[B, 4] = where(%2, %1, nan)
  %4: f32[B, 4] = mul(%3, true)
  %5: f32[S+1, 4] = reshape(y, shape=[S+1, -1])
  return %4, %5
}
