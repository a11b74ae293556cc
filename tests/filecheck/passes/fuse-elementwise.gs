// RUN: graphsynth-opt %s --split-input-file -p fuse-elementwise | filecheck %s
// RUN: graphsynth-opt %s --split-input-file -p fuse-elementwise | graphsynth-opt --split-input-file -p fuse-elementwise | filecheck %s
// RUN: graphsynth-opt %s --split-input-file -p 'fuse-elementwise{max-ops=2}' | filecheck %s --check-prefix=TWO
// fuse-elementwise groups elementwise ops (broadcasting ones included) into gs.fused regions.
// Region arguments and inner values are named f<k>.<outer name>; the region's results keep the
// names the rest of the graph reads them by.

// A chain with a broadcast operand and a value used outside (the return) becomes one region with
// two results; the second chain cannot join the first (a linear sits between them: joining would
// need the linear to be both before and after the region), so it is a region of its own; the
// outside op reading %1 moves below the first region.
// CHECK-LABEL: graph Chain(x: f32[B, 4], y: f32[4]) -> (f32[B, 4], f32[B, 4]) {
// CHECK-NEXT:    param fc.weight: f32[4, 4]
// CHECK-NEXT:    %0: f32[B, 4], %1: f32[B, 4], %3: f32[B, 4] = fused(x, y) {
// CHECK-NEXT:      ^(%f0.x: f32[B, 4], %f0.y: f32[4])
// CHECK-NEXT:      %f0.0: f32[B, 4] = add(%f0.x, %f0.y)
// CHECK-NEXT:      %f0.1: f32[B, 4] = relu(%f0.0)
// CHECK-NEXT:      %f0.3: f32[B, 4] = mul(%f0.1, 2.0)
// CHECK-NEXT:      yield %f0.0, %f0.1, %f0.3
// CHECK-NEXT:    }
// CHECK-NEXT:    module fc : Linear {
// CHECK-NEXT:      %2: f32[B, 4] = linear(%1, fc.weight)
// CHECK-NEXT:    }
// CHECK-NEXT:    %6: f32[B, 4] = fused(%2, %3) {
// CHECK-NEXT:      ^(%f1.2: f32[B, 4], %f1.3: f32[B, 4])
// CHECK-NEXT:      %f1.4: f32[B, 4] = sigmoid(%f1.2)
// CHECK-NEXT:      %f1.5: f32[B, 4] = add(%f1.3, %f1.4)
// CHECK-NEXT:      %f1.6: f32[B, 4] = tanh(%f1.5)
// CHECK-NEXT:      yield %f1.6
// CHECK-NEXT:    }
// CHECK-NEXT:    return %6, %0
// CHECK-NEXT:  }
// With max-ops=2 the groups are cut: mul then joins add (the larger of the two groups add reads
// from, sigmoid stays alone) and tanh finds that group full.
// TWO-LABEL: graph Chain
// TWO:         %0: f32[B, 4], %1: f32[B, 4] = fused(x, y) {
// TWO:         %4: f32[B, 4] = sigmoid(%2)
// TWO-NEXT:    %5: f32[B, 4] = fused(%1, %4) {
// TWO:         %6: f32[B, 4] = tanh(%5)
graph Chain(x: f32[B, 4], y: f32[4]) -> (f32[B, 4], f32[B, 4]) {
  param fc.weight: f32[4, 4]
  %0: f32[B, 4] = add(x, y)
  %1: f32[B, 4] = relu(%0)
  module fc : Linear {
    %2: f32[B, 4] = linear(%1, fc.weight)
  }
  %3: f32[B, 4] = mul(%1, 2.0)
  %4: f32[B, 4] = sigmoid(%2)
  %5: f32[B, 4] = add(%3, %4)
  %6: f32[B, 4] = tanh(%5)
  return %6, %0
}

// -----

// Ops of two modules fuse; the region sits in their innermost common module (block); an outside
// op between them that does not read the group stays before the region.
// CHECK-LABEL: graph Modules(x: f32[B, 4], z: f32[B, 4]) -> (f32[B, 4], f32[B]) {
// CHECK-NEXT:    module block : Block {
// CHECK-NEXT:      %s: f32[B] = sum(z, dims=[1])
// CHECK-NEXT:      %1: f32[B, 4] = fused(x) {
// CHECK-NEXT:        ^(%f0.x: f32[B, 4])
// CHECK-NEXT:        %f0.0: f32[B, 4] = gelu(%f0.x)
// CHECK-NEXT:        %f0.1: f32[B, 4] = mul(%f0.0, 0.5)
// CHECK-NEXT:        yield %f0.1
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    return %1, %s
graph Modules(x: f32[B, 4], z: f32[B, 4]) -> (f32[B, 4], f32[B]) {
  module block : Block {
    module block.act : GELU {
      %0: f32[B, 4] = gelu(x)
    }
    %s: f32[B] = sum(z, dims=[1])
    module block.scale : Scale {
      %1: f32[B, 4] = mul(%0, 0.5)
    }
  }
  return %1, %s
}

// -----

// Nothing to fuse: single elementwise ops between non-elementwise ones, and training dropout.
// CHECK-LABEL: graph Single(x: f32[B, 4]) -> f32[B, 4] {
// CHECK-NEXT:    %0: f32[B, 4] = relu(x)
// CHECK-NEXT:    %1: f32[B, 4] = softmax(%0, dim=1)
// CHECK-NEXT:    %2: f32[B, 4] = dropout(%1, p=0.1, train=true)
// CHECK-NEXT:    %3: f32[B, 4] = exp(%2)
// CHECK-NEXT:    return %3
// CHECK-NOT:     fused
graph Single(x: f32[B, 4]) -> f32[B, 4] {
  %0: f32[B, 4] = relu(x)
  %1: f32[B, 4] = softmax(%0, dim=1)
  %2: f32[B, 4] = dropout(%1, p=0.1, train=true)
  %3: f32[B, 4] = exp(%2)
  return %3
}
