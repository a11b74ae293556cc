// A pre-LN transformer block with symbolic batch B and sequence length S (causal attention).
graph Block(x: f32[B, S, 64]) -> f32[B, S, 64] {
  param ln1.weight: f32[64]
  param ln1.bias: f32[64]
  param attn.qkv.weight: f32[192, 64]
  param attn.qkv.bias: f32[192]
  param attn.proj.weight: f32[64, 64]
  param attn.proj.bias: f32[64]
  param ln2.weight: f32[64]
  param ln2.bias: f32[64]
  param mlp.fc.weight: f32[256, 64]
  param mlp.fc.bias: f32[256]
  param mlp.out.weight: f32[64, 256]
  param mlp.out.bias: f32[64]
  module ln1 : LayerNorm {
    %0: f32[B, S, 64] = layer_norm(x, ln1.weight, ln1.bias, normalized_shape=[64])
  }
  module attn : Attention {
    module attn.qkv : Linear {
      %1: f32[B, S, 192] = linear(%0, attn.qkv.weight, attn.qkv.bias)
    }
    %2: f32[B, S, 64], %3: f32[B, S, 64], %4: f32[B, S, 64] = split(%1, dim=-1, sizes=[64, 64, 64])
    %5: f32[B, S, 4, 16] = reshape(%2, shape=[B, S, 4, 16])
    %6: f32[B, 4, S, 16] = transpose(%5, dim0=1, dim1=2)
    %7: f32[B, S, 4, 16] = reshape(%3, shape=[B, S, 4, 16])
    %8: f32[B, 4, S, 16] = transpose(%7, dim0=1, dim1=2)
    %9: f32[B, S, 4, 16] = reshape(%4, shape=[B, S, 4, 16])
    %10: f32[B, 4, S, 16] = transpose(%9, dim0=1, dim1=2)
    %11: f32[B, 4, S, 16] = attention(%6, %8, %10, is_causal=true)
    %12: f32[B, S, 4, 16] = transpose(%11, dim0=1, dim1=2)
    %13: f32[B, S, 64] = reshape(%12, shape=[B, S, 64])
    module attn.proj : Linear {
      %14: f32[B, S, 64] = linear(%13, attn.proj.weight, attn.proj.bias)
    }
  }
  %15: f32[B, S, 64] = add(x, %14)
  module ln2 : LayerNorm {
    %16: f32[B, S, 64] = layer_norm(%15, ln2.weight, ln2.bias, normalized_shape=[64])
  }
  module mlp : MLP {
    module mlp.fc : Linear {
      %17: f32[B, S, 256] = linear(%16, mlp.fc.weight, mlp.fc.bias)
    }
    %18: f32[B, S, 256] = gelu(%17)
    module mlp.out : Linear {
      %19: f32[B, S, 64] = linear(%18, mlp.out.weight, mlp.out.bias)
    }
  }
  %20: f32[B, S, 64] = add(%15, %19)
  return %20
}

