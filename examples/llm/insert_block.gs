// Goal: insert a LayerNorm block named `norm` between the modules `encoder` and `head`.
graph Classifier(x: f32[B, 64]) -> f32[B, 10] {
  param encoder.weight: f32[128, 64]
  param encoder.bias: f32[128]
  param head.weight: f32[10, 128]
  param head.bias: f32[10]
  module encoder : Linear {
    %0: f32[B, 128] = linear(x, encoder.weight, encoder.bias)
  }
  %1: f32[B, 128] = relu(%0)
  module head : Linear {
    %2: f32[B, 10] = linear(%1, head.weight, head.bias)
  }
  return %2
}
