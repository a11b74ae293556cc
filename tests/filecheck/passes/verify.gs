// RUN: not graphsynth-opt -p verify --split-input-file %s 2>/dev/null | filecheck %s
// RUN: not graphsynth-opt -p verify,canonicalize --split-input-file %s 2>&1 | filecheck %s --check-prefix=ERR
// The verify pass leaves valid IR unchanged; invalid IR never reaches the pipeline (it is
// verified after parsing), so no pass runs on it and the diagnostics are the verifier's.

// CHECK-LABEL: graph Ok(x: f32[B, 4]) -> f32[B, 4] {
// CHECK-NEXT:    %0: f32[B, 4] = relu(x)
// CHECK-NEXT:    return %0
graph Ok(x: f32[B, 4]) -> f32[B, 4] {
  %0: f32[B, 4] = relu(x)
  return %0
}

// -----

// ERR: verify.gs:[[# @LINE + 3]]:3: error[GS305]: relu: result %0 must be f32[B, 4], which the op produces, but is declared f32[B, 5] (dim 1)
// ERR-NOT: IR Dump
graph Bad(x: f32[B, 4]) -> f32[B, 4] {
  %0: f32[B, 5] = relu(x)
  return x
}
