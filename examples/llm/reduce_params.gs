// Goal: reduce the number of parameters by about 4x while keeping the interface.
graph MLP(x: f32[B, 256]) -> f32[B, 16] {
  param fc1.weight: f32[512, 256]
  param fc1.bias: f32[512]
  param fc2.weight: f32[512, 512]
  param fc2.bias: f32[512]
  param fc3.weight: f32[16, 512]
  param fc3.bias: f32[16]
  module fc1 : Linear {
    %0: f32[B, 512] = linear(x, fc1.weight, fc1.bias)
  }
  %1: f32[B, 512] = gelu(%0)
  module fc2 : Linear {
    %2: f32[B, 512] = linear(%1, fc2.weight, fc2.bias)
  }
  %3: f32[B, 512] = gelu(%2)
  module fc3 : Linear {
    %4: f32[B, 16] = linear(%3, fc3.weight, fc3.bias)
  }
  return %4
}
