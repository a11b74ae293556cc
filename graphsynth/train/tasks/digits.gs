// Seed architecture of the digits task: one hidden layer of 32 units.
graph DigitsMLP(x: f32[B, 64]) -> f32[B, 10] {
  param l1.fc.weight: f32[32, 64]
  param l1.fc.bias: f32[32]
  param head.weight: f32[10, 32]
  param head.bias: f32[10]
  module l1 : Block {
    module l1.fc : Linear {
      %0: f32[B, 32] = linear(x, l1.fc.weight, l1.fc.bias)
    }
    %1: f32[B, 32] = relu(%0)
  }
  module head : Linear {
    %2: f32[B, 10] = linear(%1, head.weight, head.bias)
  }
  return %2
}
