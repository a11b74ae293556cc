// RUN: graphsynth-opt %s --split-input-file --verify-diagnostics
// An initial value that the lowering does not know is refused where it is written.

graph G(x: f32[B, 8]) -> f32[B, 8] {
  // expected-error@+1 {{GS209: param: init="one" is not one of "zeros", "ones", "normal:<std>"}}
  param norm.weight: f32[8] init="one"
  %0: f32[B, 8] = mul(x, norm.weight)
  return %0
}

// -----

graph G(x: f32[B, 8]) -> f32[B, 8] {
  // expected-error@+1 {{GS209: param: init="normal:" is not one of}}
  param w: f32[8] init="normal:"
  %0: f32[B, 8] = mul(x, w)
  return %0
}
