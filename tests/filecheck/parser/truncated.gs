// RUN: graphsynth-opt --verify-diagnostics --split-input-file %s
// A file cut short gets GS102 at the end of its last line, with what could have come next.

// expected-error@+2 {{GS102: unexpected end of input (truncated file?); expected ')', ','}}
graph M(x: f32[B, 4]) -> f32[B, 4] {
  %0: f32[B, 4] = add(x, x

// -----

// expected-error@+3 {{GS102: unexpected end of input (truncated file?)}}
graph M(x: f32[B, 4]) -> f32[B, 4] {
  %0: f32[B, 4] = add(x, x)
  return %0
