// Goal: make the block `blocks.0` residual (its output is added to its input).
graph Tower(x: f32[B, S, 32]) -> f32[B, S, 32] {
  param proj.weight: f32[64, 32]
  param blocks.0.norm.weight: f32[64]
  param blocks.0.norm.bias: f32[64]
  param blocks.0.fc.weight: f32[64, 64]
  param blocks.0.fc.bias: f32[64]
  param out.weight: f32[32, 64]
  module proj : Linear {
    %0: f32[B, S, 64] = linear(x, proj.weight)
  }
  module blocks.0 : Block {
    module blocks.0.norm : LayerNorm {
      %1: f32[B, S, 64] = layer_norm(%0, blocks.0.norm.weight, blocks.0.norm.bias, normalized_shape=[64])
    }
    module blocks.0.fc : Linear {
      %2: f32[B, S, 64] = linear(%1, blocks.0.fc.weight, blocks.0.fc.bias)
    }
    %3: f32[B, S, 64] = gelu(%2)
  }
  module out : Linear {
    %4: f32[B, S, 32] = linear(%3, out.weight)
  }
  return %4
}
