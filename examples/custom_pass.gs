// RUN: %python %examples/custom_pass.py -p simplify-activations %s | filecheck %s
// The FileCheck test of examples/custom_pass.py (tests/test_testing_example.py runs the RUN line).

// relu(relu(x)) keeps one relu; neg(neg(.)) vanishes; a lone neg stays.
// CHECK-LABEL: graph Acts(x: f32[B, 8]) -> f32[B, 8] {
// CHECK-NEXT:    %0: f32[B, 8] = relu(x)
// CHECK-NEXT:    %2: f32[B, 8] = neg(%0)
// CHECK-NEXT:    return %2
// CHECK-NEXT:  }
graph Acts(x: f32[B, 8]) -> f32[B, 8] {
  %0: f32[B, 8] = relu(x)
  %1: f32[B, 8] = relu(%0)
  %2: f32[B, 8] = neg(%1)
  %3: f32[B, 8] = neg(%2)
  %4: f32[B, 8] = neg(%3)
  return %4
}
