// RUN: graphsynth-opt -p print-summary %s 2>&1 >/dev/null | filecheck %s --check-prefix=SUMMARY
// RUN: graphsynth-opt -p print-summary %s 2>/dev/null | filecheck %s
// print-summary writes op counts, parameters and modules to stderr and leaves the IR unchanged.

// SUMMARY: graph Summary: 4 ops, 2 params, 2 modules
// SUMMARY-NEXT: linear: 2, relu: 2{{$}}
// CHECK-LABEL: graph Summary(x: f32[B, 4]) -> f32[B, 2] {
// CHECK:         module fc1 : Linear {
// CHECK:         return %3
graph Summary(x: f32[B, 4]) -> f32[B, 2] {
  param fc1.weight: f32[8, 4]
  param fc2.weight: f32[2, 8]
  module fc1 : Linear {
    %0: f32[B, 8] = linear(x, fc1.weight)
  }
  %1: f32[B, 8] = relu(%0)
  module fc2 : Linear {
    %2: f32[B, 2] = linear(%1, fc2.weight)
  }
  %3: f32[B, 2] = relu(%2)
  return %3
}
