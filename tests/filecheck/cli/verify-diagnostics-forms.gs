// The forms of expected-* comments that --verify-diagnostics understands, as in mlir-opt:
// @+N and @-N (relative lines), @above and @below, no suffix (the comment's own line),
// expected-note (a note, relation or fix of a diagnostic on that line), several expectations
// for one line, and matching on the code as well as on the message.
// RUN: graphsynth-opt --verify-diagnostics --split-input-file %s

graph Plus(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{result %0 must be f32[B, 4]}}
  %0: f32[B, 8] = relu(x)
  return x
}

// -----

graph Minus(x: f32[B, 4]) -> f32[B, 4] {
  %0: f32[B, 8] = relu(x)
  // expected-error@-1 {{GS305}}
  return x
}

// -----

graph AboveBelow(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@below {{GS305: relu}}
  %0: f32[B, 8] = relu(x)
  // expected-note@above {{violated: 4 == 8}}
  // expected-note@-2 {{declare it as f32[B, 4]}}
  return x
}

// -----

graph SameLine(x: f32[B, 4]) -> f32[B, 4] {
  %0: f32[B, 8] = relu(x)  // expected-error {{declared f32[B, 8]}}
  return x
}

// -----

graph TwoOnOneLine(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+2 {{GS209: softmax: unknown attribute 'axis'}}
  // expected-error@+1 {{GS209: softmax: unknown attribute 'keepdim'}}
  %0: f32[B, 4] = softmax(x, axis=1, keepdim=true)
  return %0
}

// -----

// A chunk without expectations and without errors passes.
graph Clean(x: f32[B, 4]) -> f32[B, 4] {
  return x
}
