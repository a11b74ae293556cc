// RUN: graphsynth-opt %s | filecheck %s
// RUN: graphsynth-opt %s | graphsynth-opt | filecheck %s
// Names the text form must read and print back unchanged: state_dict keys of nn.Sequential
// (0.weight, 2.0.bias), their module paths (0, 2.0), names that start like numbers (info,
// nan.scale), bool and special float literals in scalar positions.

// CHECK-LABEL: graph Sequential(input: f32[B, 4], info: f32[B, 2]) -> f32[B, 2] {
// CHECK-NEXT:    param 0.weight: f32[4, 4]
// CHECK-NEXT:    param 0.bias: f32[4]
// CHECK-NEXT:    param 2.0.weight: f32[2, 4]
// CHECK-NEXT:    param 2.0.bias: f32[2]
// CHECK-NEXT:    param nan.scale: f32[2]
// CHECK-NEXT:    module 0 : Linear {
// CHECK-NEXT:      %0: f32[B, 4] = linear(input, 0.weight, 0.bias)
// CHECK-NEXT:    }
// CHECK-NEXT:    module 1 : ReLU {
// CHECK-NEXT:      %1: f32[B, 4] = relu(%0)
// CHECK-NEXT:    }
// CHECK-NEXT:    module 2 : Sequential {
// CHECK-NEXT:      module 2.0 : Linear {
// CHECK-NEXT:        %2: f32[B, 2] = linear(%1, 2.0.weight, 2.0.bias)
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    %3: f32[B, 2] = mul(%2, nan.scale)
// CHECK-NEXT:    %4: f32[B, 2] = add(%3, info)
// CHECK-NEXT:    %5: f32[B, 2] = mul(%4, 100000.0)
// CHECK-NEXT:    %6: f32[B, 2] = clamp(%5, min=-inf, max=inf)
// CHECK-NEXT:    %7: bool[B, 2] = gt(%6, 0.5)
// CHECK-NEXT:    %8: bool[B, 2] = logical_and(%7, true)
// CHECK-NEXT:    %9: f32[B, 2] = where(%8, %6, nan)
// CHECK-NEXT:    return %9
// CHECK-NEXT:  }
graph Sequential(input: f32[B, 4], info: f32[B, 2]) -> f32[B, 2] {
  param 0.weight: f32[4, 4]
  param 0.bias: f32[4]
  param 2.0.weight: f32[2, 4]
  param 2.0.bias: f32[2]
  param nan.scale: f32[2]
  module 0 : Linear {
    %0: f32[B, 4] = linear(input, 0.weight, 0.bias)
  }
  module 1 : ReLU {
    %1: f32[B, 4] = relu(%0)
  }
  module 2 : Sequential {
    module 2.0 : Linear {
      %2: f32[B, 2] = linear(%1, 2.0.weight, 2.0.bias)
    }
  }
  %3: f32[B, 2] = mul(%2, nan.scale)
  %4: f32[B, 2] = add(%3, info)
  %5: f32[B, 2] = mul(%4, 1.e5)
  %6: f32[B, 2] = clamp(%5, min=-inf, max=inf)
  %7: bool[B, 2] = gt(%6, 0.5)
  %8: bool[B, 2] = logical_and(%7, true)
  %9: f32[B, 2] = where(%8, %6, nan)
  return %9
}
