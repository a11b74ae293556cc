// RUN: graphsynth-opt -p dce %s | filecheck %s
// dce erases ops whose results nobody uses, transitively; parameters stay even when unused,
// because they are part of the state_dict contract.

// CHECK-LABEL: graph Dce(x: f32[B, 4]) -> f32[B, 4] {
// CHECK-NEXT:    param unused.weight: f32[4, 4]
// CHECK-NEXT:    param used.weight: f32[4, 4]
// CHECK-NEXT:    %0: f32[B, 4] = linear(x, used.weight)
// CHECK-NEXT:    %3: f32[B, 4] = sigmoid(%0)
// CHECK-NEXT:    return %3
// CHECK-NEXT:  }
// CHECK-NOT:     relu
// CHECK-NOT:     tanh
graph Dce(x: f32[B, 4]) -> f32[B, 4] {
  param unused.weight: f32[4, 4]
  param used.weight: f32[4, 4]
  %0: f32[B, 4] = linear(x, used.weight)
  %1: f32[B, 4] = relu(x)
  %2: f32[B, 4] = tanh(%1)
  %3: f32[B, 4] = sigmoid(%0)
  return %3
}
