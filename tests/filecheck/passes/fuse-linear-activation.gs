// RUN: graphsynth-opt %s --split-input-file -p fuse-linear-activation | filecheck %s
// RUN: graphsynth-opt %s --split-input-file -p 'fuse-linear-activation{activations=relu}' | filecheck %s --check-prefix=RELU
// RUN: graphsynth-opt %s --split-input-file -p fuse-linear-activation --emit=python | filecheck %s --check-prefix=PY
// An activation that is the only reader of a linear joins it in one linear_act op, which takes
// the activation's name; the op sits in the innermost module holding both.

// CHECK-LABEL: graph Fuse(x: f32[B, 8]) -> (f32[B, 8], f32[B, 8], f32[B, 8]) {
// CHECK:         module mlp : MLP {
// CHECK-NEXT:      %a: f32[B, 8] = linear_act(x, mlp.fc1.weight, mlp.fc1.bias, activation="relu")
// CHECK-NEXT:      %b: f32[B, 8] = linear_act(%a, mlp.fc2.weight, activation="gelu", approximate="tanh")
// CHECK-NEXT:      module mlp.fc3 : Linear {
// CHECK-NEXT:        %c: f32[B, 8] = linear_act(%b, mlp.fc3.weight, mlp.fc3.bias, activation="silu")
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    return %a, %b, %c
// RELU:          %a: f32[B, 8] = linear_act(x, mlp.fc1.weight, mlp.fc1.bias, activation="relu")
// RELU:          %b: f32[B, 8] = gelu(%1, approximate="tanh")
// RELU:          %c: f32[B, 8] = silu(%2)
// PY:            linear_relu(
// PY:            torch._C._nn.gelu_(
// PY:            torch._C._nn.silu_(
// PY:            {{^}}// -----
// PY:            torch._C._nn.linear(
// PY-NOT:        linear_relu
graph Fuse(x: f32[B, 8]) -> (f32[B, 8], f32[B, 8], f32[B, 8]) {
  param mlp.fc1.weight: f32[8, 8]
  param mlp.fc1.bias: f32[8]
  param mlp.fc2.weight: f32[8, 8]
  param mlp.fc3.weight: f32[8, 8]
  param mlp.fc3.bias: f32[8]
  module mlp : MLP {
    module mlp.fc1 : Linear {
      %0: f32[B, 8] = linear(x, mlp.fc1.weight, mlp.fc1.bias)
    }
    %a: f32[B, 8] = relu(%0)
    module mlp.fc2 : Linear {
      %1: f32[B, 8] = linear(%a, mlp.fc2.weight)
    }
    %b: f32[B, 8] = gelu(%1, approximate="tanh")
    module mlp.fc3 : Linear {
      %2: f32[B, 8] = linear(%b, mlp.fc3.weight, mlp.fc3.bias)
      %c: f32[B, 8] = silu(%2)
    }
  }
  return %a, %b, %c
}

// -----

// Not fused: the linear has a second reader, the activation is not one of relu/gelu/silu, or it
// reads something else.
// CHECK-LABEL: graph Keep(x: f32[B, 8]) -> (f32[B, 8], f32[B, 8], f32[B, 8]) {
// CHECK-NEXT:    param w: f32[8, 8]
// CHECK-NEXT:    %0: f32[B, 8] = linear(x, w)
// CHECK-NEXT:    %1: f32[B, 8] = relu(%0)
// CHECK-NEXT:    %2: f32[B, 8] = linear(x, w)
// CHECK-NEXT:    %3: f32[B, 8] = tanh(%2)
// CHECK-NEXT:    %4: f32[B, 8] = relu(x)
// CHECK-NEXT:    %5: f32[B, 8] = add(%0, %4)
// CHECK-NEXT:    return %1, %3, %5
graph Keep(x: f32[B, 8]) -> (f32[B, 8], f32[B, 8], f32[B, 8]) {
  param w: f32[8, 8]
  %0: f32[B, 8] = linear(x, w)
  %1: f32[B, 8] = relu(%0)
  %2: f32[B, 8] = linear(x, w)
  %3: f32[B, 8] = tanh(%2)
  %4: f32[B, 8] = relu(x)
  %5: f32[B, 8] = add(%0, %4)
  return %1, %3, %5
}
