// RUN: graphsynth-opt %s | filecheck %s
// A parameter a pass created carries its initial value (it has none in the source state_dict);
// the text form keeps it, so printing and parsing does not turn a LayerNorm weight into zeros.

// CHECK: param norm.weight: f32[8] init="ones"
// CHECK: param norm.bias: f32[8] init="zeros"
// CHECK: param proj.weight: f32[8, 8] init="normal:0.02"
graph G(x: f32[B, 8]) -> f32[B, 8] {
  param norm.weight: f32[8] init="ones"
  param norm.bias: f32[8] init="zeros"
  param proj.weight: f32[8, 8] init="normal:0.02"
  %0: f32[B, 8] = layer_norm(x, norm.weight, norm.bias, normalized_shape=[8])
  %1: f32[B, 8] = linear(%0, proj.weight)
  return %1
}
