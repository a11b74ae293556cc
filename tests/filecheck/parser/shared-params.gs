// A parameter declared with `= KEY` is another name of parameter KEY (tied weights): the text
// form and MLIR keep it, and reading either back gives the same text.
// RUN: graphsynth-opt %s | filecheck %s
// RUN: graphsynth-opt %s -o %t.gs
// RUN: graphsynth-opt %s --emit=mlir -o %t.mlir
// RUN: graphsynth-opt %t.mlir | diff %t.gs -
// RUN: graphsynth-opt %s --emit=mlir | filecheck %s --check-prefix=MLIR
// RUN: graphsynth-opt %s --emit=python | filecheck %s --check-prefix=PY

// CHECK:      graph Tied(ids: i64[B, S]) -> f32[B, S, 64] {
// CHECK-NEXT:   param transformer.wte.weight: f32[64, 16]
// CHECK-NEXT:   param lm_head.weight: f32[64, 16] = transformer.wte.weight
// CHECK-NEXT:   module transformer.wte : Embedding {
// CHECK:        linear(%0, lm_head.weight)

// MLIR:      "gs.param"() <{name = "transformer.wte.weight", kind = "param"}> : () -> !gs.tensor<f32, [64, 16]>
// MLIR-NEXT: "gs.param"() <{name = "lm_head.weight", kind = "param", alias = "transformer.wte.weight"}> : () -> !gs.tensor<f32, [64, 16]>

// Both keys are state; the forward reads the one tensor once.
// PY:      #   transformer.wte.weight: param f32[64, 16]
// PY-NEXT: #   lm_head.weight: param f32[64, 16]
// PY:      transformer_wte_weight = self.transformer.wte.weight
// PY-NOT:  self.lm_head.weight

graph Tied(ids: i64[B, S]) -> f32[B, S, 64] {
  param transformer.wte.weight: f32[64, 16]
  param lm_head.weight: f32[64, 16] = transformer.wte.weight
  module transformer.wte : Embedding {
    %0: f32[B, S, 16] = embedding(transformer.wte.weight, ids)
  }
  module lm_head : Linear {
    %1: f32[B, S, 64] = linear(%0, lm_head.weight)
  }
  return %1
}
