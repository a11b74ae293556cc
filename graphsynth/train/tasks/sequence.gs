// Seed architecture of the sequence task: a token-wise projection, a flattening mixer, a head.
graph SeqMixer(x: f32[B, 12, 8]) -> f32[B, 4] {
  param embed.fc.weight: f32[16, 8]
  param embed.fc.bias: f32[16]
  param mix.fc.weight: f32[32, 192]
  param mix.fc.bias: f32[32]
  param head.weight: f32[4, 32]
  param head.bias: f32[4]
  module embed : Block {
    module embed.fc : Linear {
      %0: f32[B, 12, 16] = linear(x, embed.fc.weight, embed.fc.bias)
    }
    %1: f32[B, 12, 16] = relu(%0)
  }
  module mix : Block {
    %2: f32[B, 192] = flatten(%1, start_dim=1)
    module mix.fc : Linear {
      %3: f32[B, 32] = linear(%2, mix.fc.weight, mix.fc.bias)
    }
    %4: f32[B, 32] = relu(%3)
  }
  module head : Linear {
    %5: f32[B, 4] = linear(%4, head.weight, head.bias)
  }
  return %5
}
