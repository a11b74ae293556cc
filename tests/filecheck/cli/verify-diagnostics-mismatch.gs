// --verify-diagnostics fails (exit 1) and says why when an expected diagnostic is missing, has
// other text, sits on another line, or when a diagnostic was not expected.
// RUN: not graphsynth-opt --verify-diagnostics --split-input-file %s 2>&1 | filecheck %s

// CHECK: verify-diagnostics-mismatch.gs:[[# @LINE + 3]]:1: error[GS000]: expected error "GS301" on line [[# @LINE + 4]] was not produced
// CHECK-NEXT: note: no error was produced there
graph Missing(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS301}}
  %0: f32[B, 4] = relu(x)
  return %0
}

// -----

// CHECK: verify-diagnostics-mismatch.gs:[[# @LINE + 4]]:1: error[GS000]: expected error "is declared f32[B, 9]" on line [[# @LINE + 5]] was not produced
// CHECK-NEXT: note: got error there: [GS305] relu: result %0 must be f32[B, 4], which the op produces, but is declared f32[B, 8] (dim 1)
// CHECK: verify-diagnostics-mismatch.gs:[[# @LINE + 3]]:3: error[GS000]: unexpected error: [GS305] relu: result %0 must be f32[B, 4]
graph WrongText(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{is declared f32[B, 9]}}
  %0: f32[B, 8] = relu(x)
  return x
}

// -----

// CHECK: verify-diagnostics-mismatch.gs:[[# @LINE + 3]]:1: error[GS000]: expected error "GS305" on line [[# @LINE + 5]] was not produced
// CHECK: verify-diagnostics-mismatch.gs:[[# @LINE + 3]]:3: error[GS000]: unexpected error: [GS305]
graph WrongLine(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+2 {{GS305}}
  %0: f32[B, 8] = relu(x)
  return x
}

// -----

// CHECK: verify-diagnostics-mismatch.gs:[[# @LINE + 3]]:19: error[GS000]: unexpected error: [GS207] frob: unknown op
// CHECK-NEXT: note: GS207
graph Unexpected(x: f32[B, 4]) -> f32[B, 4] {
  %0: f32[B, 4] = frob(x)
  return %0
}

// -----

// CHECK-NEXT: error[GS000]: expected note "no such note" on line [[# @LINE + 5]] was not produced
// CHECK-NEXT: note: got note: violated: 4 == 8
graph WrongNote(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+2 {{GS305}}
  // expected-note@+1 {{no such note}}
  %0: f32[B, 8] = relu(x)
  return x
}
