// RUN: graphsynth-opt -p cse %s | filecheck %s
// cse merges ops with the same name, operands and attributes; the first definition and its name
// survive.  Operand order matters (add is not assumed commutative) and so do attributes.

// CHECK-LABEL: graph Cse(x: f32[B, 4], y: f32[B, 4]) -> (f32[B, 4], f32[B, 4], f32[B, 4]) {
// CHECK-NEXT:    %a: f32[B, 4] = relu(x)
// CHECK-NEXT:    %c: f32[B, 4] = add(%a, y)
// CHECK-NEXT:    %e: f32[B, 4] = add(y, %a)
// CHECK-NEXT:    %f: f32[B, 4] = softmax(%c, dim=1)
// CHECK-NEXT:    %g: f32[B, 4] = softmax(%c, dim=0)
// CHECK-NEXT:    %h: f32[B, 4] = mul(%f, %g)
// CHECK-NEXT:    return %h, %c, %e
// CHECK-NEXT:  }
graph Cse(x: f32[B, 4], y: f32[B, 4]) -> (f32[B, 4], f32[B, 4], f32[B, 4]) {
  %a: f32[B, 4] = relu(x)
  %b: f32[B, 4] = relu(x)
  %c: f32[B, 4] = add(%a, y)
  %d: f32[B, 4] = add(%b, y)
  %e: f32[B, 4] = add(y, %a)
  %f: f32[B, 4] = softmax(%c, dim=1)
  %g: f32[B, 4] = softmax(%d, dim=0)
  %h: f32[B, 4] = mul(%f, %g)
  return %h, %d, %e
}

// Equal ops in different modules are kept apart (their module path is part of the op), and
// parameters are never merged, even with the same type: they are distinct state_dict entries.
// CHECK-LABEL: graph Modules(x: f32[B, 4]) -> f32[B, 4] {
// CHECK-NEXT:    param a.weight: f32[4, 4]
// CHECK-NEXT:    param b.weight: f32[4, 4]
// CHECK-NEXT:    module a : Block {
// CHECK-NEXT:      %0: f32[B, 4] = relu(x)
// CHECK-NEXT:      %1: f32[B, 4] = linear(%0, a.weight)
// CHECK-NEXT:    }
// CHECK-NEXT:    module b : Block {
// CHECK-NEXT:      %2: f32[B, 4] = relu(x)
// CHECK-NEXT:      %3: f32[B, 4] = linear(%2, b.weight)
// CHECK-NEXT:    }
// CHECK-NEXT:    %4: f32[B, 4] = add(%1, %3)
// CHECK-NEXT:    return %4
graph Modules(x: f32[B, 4]) -> f32[B, 4] {
  param a.weight: f32[4, 4]
  param b.weight: f32[4, 4]
  module a : Block {
    %0: f32[B, 4] = relu(x)
    %1: f32[B, 4] = linear(%0, a.weight)
  }
  module b : Block {
    %2: f32[B, 4] = relu(x)
    %3: f32[B, 4] = linear(%2, b.weight)
  }
  %4: f32[B, 4] = add(%1, %3)
  return %4
}
