// examples/mlp.gs: a two-layer perceptron with a symbolic batch dim B.
graph MLP(x: f32[B, 784]) -> f32[B, 10] {
  param fc1.weight: f32[256, 784]
  param fc1.bias: f32[256]
  param fc2.weight: f32[10, 256]
  param fc2.bias: f32[10]
  module fc1 : Linear {
    %0: f32[B, 256] = linear(x, fc1.weight, fc1.bias)
  }
  %1: f32[B, 256] = relu(%0)
  %2: f32[B, 256] = dropout(%1, p=0.1)
  module fc2 : Linear {
    %3: f32[B, 10] = linear(%2, fc2.weight, fc2.bias)
  }
  %4: f32[B, 10] = mul(%3, 1)
  return %4
}
