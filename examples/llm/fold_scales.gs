// Goal ([preserve-semantics]): fold the consecutive scalings into one multiplication.
graph Scaled(x: f32[B, 8]) -> f32[B, 4] {
  param fc.weight: f32[4, 8]
  %0: f32[B, 8] = mul(x, 0.5)
  %1: f32[B, 8] = mul(%0, 3.0)
  module fc : Linear {
    %2: f32[B, 4] = linear(%1, fc.weight)
  }
  %3: f32[B, 4] = tanh(%2)
  return %3
}
