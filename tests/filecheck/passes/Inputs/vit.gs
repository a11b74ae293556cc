// Snapshot of examples/models.py:vit() imported with graphsynth.import_torch (random weights); input of the pass tests.
graph ViTModel(pixel_values: f32[B, 3, 32, 32]) -> (f32[B, 17, 64], f32[B, 64]) {
  param embeddings.cls_token: f32[1, 1, 64]
  param embeddings.position_embeddings: f32[1, 17, 64]
  param embeddings.patch_embeddings.projection.weight: f32[64, 3, 8, 8]
  param embeddings.patch_embeddings.projection.bias: f32[64]
  param layers.0.attention.q_proj.weight: f32[64, 64]
  param layers.0.attention.q_proj.bias: f32[64]
  param layers.0.attention.k_proj.weight: f32[64, 64]
  param layers.0.attention.k_proj.bias: f32[64]
  param layers.0.attention.v_proj.weight: f32[64, 64]
  param layers.0.attention.v_proj.bias: f32[64]
  param layers.0.attention.o_proj.weight: f32[64, 64]
  param layers.0.attention.o_proj.bias: f32[64]
  param layers.0.layernorm_before.weight: f32[64]
  param layers.0.layernorm_before.bias: f32[64]
  param layers.0.layernorm_after.weight: f32[64]
  param layers.0.layernorm_after.bias: f32[64]
  param layers.0.mlp.fc1.weight: f32[128, 64]
  param layers.0.mlp.fc1.bias: f32[128]
  param layers.0.mlp.fc2.weight: f32[64, 128]
  param layers.0.mlp.fc2.bias: f32[64]
  param layers.1.attention.q_proj.weight: f32[64, 64]
  param layers.1.attention.q_proj.bias: f32[64]
  param layers.1.attention.k_proj.weight: f32[64, 64]
  param layers.1.attention.k_proj.bias: f32[64]
  param layers.1.attention.v_proj.weight: f32[64, 64]
  param layers.1.attention.v_proj.bias: f32[64]
  param layers.1.attention.o_proj.weight: f32[64, 64]
  param layers.1.attention.o_proj.bias: f32[64]
  param layers.1.layernorm_before.weight: f32[64]
  param layers.1.layernorm_before.bias: f32[64]
  param layers.1.layernorm_after.weight: f32[64]
  param layers.1.layernorm_after.bias: f32[64]
  param layers.1.mlp.fc1.weight: f32[128, 64]
  param layers.1.mlp.fc1.bias: f32[128]
  param layers.1.mlp.fc2.weight: f32[64, 128]
  param layers.1.mlp.fc2.bias: f32[64]
  param layernorm.weight: f32[64]
  param layernorm.bias: f32[64]
  param pooler.dense.weight: f32[64, 64]
  param pooler.dense.bias: f32[64]
  module embeddings : ViTEmbeddings {
    module embeddings.patch_embeddings : ViTPatchEmbeddings {
      module embeddings.patch_embeddings.projection : Conv2d {
        %0: f32[B, 64, 4, 4] = conv2d(pixel_values, embeddings.patch_embeddings.projection.weight, embeddings.patch_embeddings.projection.bias, stride=[8, 8])
      }
      %1: f32[B, 64, 16] = flatten(%0, start_dim=2)
      %2: f32[B, 16, 64] = transpose(%1, dim0=1, dim1=2)
    }
    %3: f32[B, 1, 64] = expand(embeddings.cls_token, shape=[B, 1, 64])
    %4: f32[B, 17, 64] = concat(%3, %2, dim=1)
    %5: f32[B, 17, 64] = add(%4, embeddings.position_embeddings)
  }
  %6: i64[17] = arange(end=17)
  %7: i64[1, 17] = unsqueeze(%6, dim=0)
  %8: i64[1, 1, 17] = unsqueeze(%7, dim=1)
  %9: i64[1, 1, 17, 1] = unsqueeze(%8, dim=3)
  %10: bool[1, 1, 17, 1] = ge(%9, 0)
  %11: bool[B, 1, 17, 17] = expand(%10, shape=[B, 1, 17, 17])
  module layers.0 : ViTLayer {
    module layers.0.layernorm_before : LayerNorm {
      %12: f32[B, 17, 64] = layer_norm(%5, layers.0.layernorm_before.weight, layers.0.layernorm_before.bias, normalized_shape=[64], eps=1e-12)
    }
    module layers.0.attention : ViTAttention {
      module layers.0.attention.q_proj : Linear {
        %13: f32[B, 17, 64] = linear(%12, layers.0.attention.q_proj.weight, layers.0.attention.q_proj.bias)
      }
      %14: f32[B, 17, 4, 16] = reshape(%13, shape=[B, 17, 4, 16])
      %15: f32[B, 4, 17, 16] = transpose(%14, dim0=1, dim1=2)
      module layers.0.attention.k_proj : Linear {
        %16: f32[B, 17, 64] = linear(%12, layers.0.attention.k_proj.weight, layers.0.attention.k_proj.bias)
      }
      %17: f32[B, 17, 4, 16] = reshape(%16, shape=[B, 17, 4, 16])
      %18: f32[B, 4, 17, 16] = transpose(%17, dim0=1, dim1=2)
      module layers.0.attention.v_proj : Linear {
        %19: f32[B, 17, 64] = linear(%12, layers.0.attention.v_proj.weight, layers.0.attention.v_proj.bias)
      }
      %20: f32[B, 17, 4, 16] = reshape(%19, shape=[B, 17, 4, 16])
      %21: f32[B, 4, 17, 16] = transpose(%20, dim0=1, dim1=2)
      %22: f32[B, 4, 17, 16] = attention(%15, %18, %21, %11, scale=0.25)
      %23: f32[B, 17, 4, 16] = transpose(%22, dim0=1, dim1=2)
      %24: f32[B, 17, 64] = reshape(%23, shape=[B, 17, 64])
      module layers.0.attention.o_proj : Linear {
        %25: f32[B, 17, 64] = linear(%24, layers.0.attention.o_proj.weight, layers.0.attention.o_proj.bias)
      }
    }
    %26: f32[B, 17, 64] = add(%25, %5)
    module layers.0.layernorm_after : LayerNorm {
      %27: f32[B, 17, 64] = layer_norm(%26, layers.0.layernorm_after.weight, layers.0.layernorm_after.bias, normalized_shape=[64], eps=1e-12)
    }
    module layers.0.mlp : ViTMLP {
      module layers.0.mlp.fc1 : Linear {
        %28: f32[B, 17, 128] = linear(%27, layers.0.mlp.fc1.weight, layers.0.mlp.fc1.bias)
      }
      module layers.0.mlp.activation_fn : GELUActivation {
        %29: f32[B, 17, 128] = gelu(%28)
      }
      module layers.0.mlp.fc2 : Linear {
        %30: f32[B, 17, 64] = linear(%29, layers.0.mlp.fc2.weight, layers.0.mlp.fc2.bias)
      }
    }
    %31: f32[B, 17, 64] = add(%30, %26)
  }
  module layers.1 : ViTLayer {
    module layers.1.layernorm_before : LayerNorm {
      %32: f32[B, 17, 64] = layer_norm(%31, layers.1.layernorm_before.weight, layers.1.layernorm_before.bias, normalized_shape=[64], eps=1e-12)
    }
    module layers.1.attention : ViTAttention {
      module layers.1.attention.q_proj : Linear {
        %33: f32[B, 17, 64] = linear(%32, layers.1.attention.q_proj.weight, layers.1.attention.q_proj.bias)
      }
      %34: f32[B, 17, 4, 16] = reshape(%33, shape=[B, 17, 4, 16])
      %35: f32[B, 4, 17, 16] = transpose(%34, dim0=1, dim1=2)
      module layers.1.attention.k_proj : Linear {
        %36: f32[B, 17, 64] = linear(%32, layers.1.attention.k_proj.weight, layers.1.attention.k_proj.bias)
      }
      %37: f32[B, 17, 4, 16] = reshape(%36, shape=[B, 17, 4, 16])
      %38: f32[B, 4, 17, 16] = transpose(%37, dim0=1, dim1=2)
      module layers.1.attention.v_proj : Linear {
        %39: f32[B, 17, 64] = linear(%32, layers.1.attention.v_proj.weight, layers.1.attention.v_proj.bias)
      }
      %40: f32[B, 17, 4, 16] = reshape(%39, shape=[B, 17, 4, 16])
      %41: f32[B, 4, 17, 16] = transpose(%40, dim0=1, dim1=2)
      %42: f32[B, 4, 17, 16] = attention(%35, %38, %41, %11, scale=0.25)
      %43: f32[B, 17, 4, 16] = transpose(%42, dim0=1, dim1=2)
      %44: f32[B, 17, 64] = reshape(%43, shape=[B, 17, 64])
      module layers.1.attention.o_proj : Linear {
        %45: f32[B, 17, 64] = linear(%44, layers.1.attention.o_proj.weight, layers.1.attention.o_proj.bias)
      }
    }
    %46: f32[B, 17, 64] = add(%45, %31)
    module layers.1.layernorm_after : LayerNorm {
      %47: f32[B, 17, 64] = layer_norm(%46, layers.1.layernorm_after.weight, layers.1.layernorm_after.bias, normalized_shape=[64], eps=1e-12)
    }
    module layers.1.mlp : ViTMLP {
      module layers.1.mlp.fc1 : Linear {
        %48: f32[B, 17, 128] = linear(%47, layers.1.mlp.fc1.weight, layers.1.mlp.fc1.bias)
      }
      module layers.1.mlp.activation_fn : GELUActivation {
        %49: f32[B, 17, 128] = gelu(%48)
      }
      module layers.1.mlp.fc2 : Linear {
        %50: f32[B, 17, 64] = linear(%49, layers.1.mlp.fc2.weight, layers.1.mlp.fc2.bias)
      }
    }
    %51: f32[B, 17, 64] = add(%50, %46)
  }
  module layernorm : LayerNorm {
    %52: f32[B, 17, 64] = layer_norm(%51, layernorm.weight, layernorm.bias, normalized_shape=[64], eps=1e-12)
  }
  module pooler : ViTPooler {
    %53: f32[B, 64] = select(%52, dim=1, index=0)
    module pooler.dense : Linear {
      %54: f32[B, 64] = linear(%53, pooler.dense.weight, pooler.dense.bias)
    }
    module pooler.activation : Tanh {
      %55: f32[B, 64] = tanh(%54)
    }
  }
  return %52, %55
}
