// Snapshot of examples/models.py:gpt2() imported with graphsynth.import_torch (random weights); input of the pass tests.
graph GPT2LMHeadModel(input_ids: i64[B, S]) -> f32[B, S, 128] {
  param transformer.wte.weight: f32[128, 64]
  param transformer.wpe.weight: f32[64, 64]
  param transformer.h.0.ln_1.weight: f32[64]
  param transformer.h.0.ln_1.bias: f32[64]
  param transformer.h.0.attn.c_attn.weight: f32[64, 192]
  param transformer.h.0.attn.c_attn.bias: f32[192]
  param transformer.h.0.attn.c_proj.weight: f32[64, 64]
  param transformer.h.0.attn.c_proj.bias: f32[64]
  param transformer.h.0.ln_2.weight: f32[64]
  param transformer.h.0.ln_2.bias: f32[64]
  param transformer.h.0.mlp.c_fc.weight: f32[64, 256]
  param transformer.h.0.mlp.c_fc.bias: f32[256]
  param transformer.h.0.mlp.c_proj.weight: f32[256, 64]
  param transformer.h.0.mlp.c_proj.bias: f32[64]
  param transformer.h.1.ln_1.weight: f32[64]
  param transformer.h.1.ln_1.bias: f32[64]
  param transformer.h.1.attn.c_attn.weight: f32[64, 192]
  param transformer.h.1.attn.c_attn.bias: f32[192]
  param transformer.h.1.attn.c_proj.weight: f32[64, 64]
  param transformer.h.1.attn.c_proj.bias: f32[64]
  param transformer.h.1.ln_2.weight: f32[64]
  param transformer.h.1.ln_2.bias: f32[64]
  param transformer.h.1.mlp.c_fc.weight: f32[64, 256]
  param transformer.h.1.mlp.c_fc.bias: f32[256]
  param transformer.h.1.mlp.c_proj.weight: f32[256, 64]
  param transformer.h.1.mlp.c_proj.bias: f32[64]
  param transformer.ln_f.weight: f32[64]
  param transformer.ln_f.bias: f32[64]
  param lm_head.weight: f32[128, 64]
  module transformer : GPT2Model {
    module transformer.wte : Embedding {
      %0: f32[B, S, 64] = embedding(transformer.wte.weight, input_ids)
    }
    %1: i64[S] = arange(end=S)
    %2: i64[1, S] = unsqueeze(%1, dim=0)
    module transformer.wpe : Embedding {
      %3: f32[1, S, 64] = embedding(transformer.wpe.weight, %2)
    }
    %4: f32[B, S, 64] = add(%0, %3)
    %5: i64[B, S] = expand(%2, shape=[B, S])
    %6: i64[B, 1] = slice(%5, dim=1, end=1)
    %7: i64[B, 1] = sub(%6, 1)
    %8: i64[B, S+1] = concat(%7, %5, dim=-1)
    %9: i64[B, S] = slice(%8, dim=-1, start=1)
    %10: i64[B, S] = slice(%8, dim=-1, end=-1)
    %11: i64[B, S] = sub(%9, %10)
    %12: bool[B, S] = ne(%11, 1)
    %13: i64[B, S] = cumsum(%12, dim=-1)
    %14: i64[B, S] = expand(%2, shape=[B, S])
    %15: i64[B] = arange(end=B)
    %16: i64[S] = arange(end=S)
    %17: i64[S] = arange(end=S)
    %18: i64[B, 1] = unsqueeze(%15, dim=1)
    %19: i64[B, 1, 1] = unsqueeze(%18, dim=2)
    %20: i64[B, 1, 1, 1] = unsqueeze(%19, dim=3)
    %21: i64[1, S] = unsqueeze(%16, dim=0)
    %22: i64[1, 1, S] = unsqueeze(%21, dim=1)
    %23: i64[1, 1, S, 1] = unsqueeze(%22, dim=3)
    %24: i64[1, S] = unsqueeze(%17, dim=0)
    %25: i64[1, 1, S] = unsqueeze(%24, dim=1)
    %26: i64[1, 1, 1, S] = unsqueeze(%25, dim=2)
    %27: bool[] = full(shape=[], value=true, dtype=bool)
    %28: i64[B, 1, S, 1] = index(%13, %20, %23)
    %29: i64[B, 1, 1, S] = index(%13, %20, %26)
    %30: bool[B, 1, S, S] = eq(%28, %29)
    %31: bool[B, 1, S, S] = logical_and(%27, %30)
    %32: i64[B, 1, S, 1] = index(%14, %20, %23)
    %33: i64[B, 1, 1, S] = index(%14, %20, %26)
    %34: bool[B, 1, S, S] = le(%33, %32)
    %35: bool[B, 1, S, S] = logical_and(%31, %34)
    module transformer.h.0 : GPT2Block {
      module transformer.h.0.ln_1 : LayerNorm {
        %36: f32[B, S, 64] = layer_norm(%4, transformer.h.0.ln_1.weight, transformer.h.0.ln_1.bias, normalized_shape=[64])
      }
      module transformer.h.0.attn : GPT2Attention {
        module transformer.h.0.attn.c_attn : Conv1D {
          %37: f32[B*S, 64] = reshape(%36, shape=[B*S, 64])
          %38: f32[B*S, 192] = addmm(transformer.h.0.attn.c_attn.bias, %37, transformer.h.0.attn.c_attn.weight)
          %39: f32[B, S, 192] = reshape(%38, shape=[B, S, 192])
        }
        %40: f32[B, S, 64], %41: f32[B, S, 64], %42: f32[B, S, 64] = split(%39, dim=2, sizes=[64, 64, 64])
        %43: f32[B, S, 4, 16] = reshape(%41, shape=[B, S, 4, 16])
        %44: f32[B, 4, S, 16] = transpose(%43, dim0=1, dim1=2)
        %45: f32[B, S, 4, 16] = reshape(%42, shape=[B, S, 4, 16])
        %46: f32[B, 4, S, 16] = transpose(%45, dim0=1, dim1=2)
        %47: f32[B, S, 4, 16] = reshape(%40, shape=[B, S, 4, 16])
        %48: f32[B, 4, S, 16] = transpose(%47, dim0=1, dim1=2)
        %49: f32[B, 4, S, 16] = attention(%48, %44, %46, %35, scale=0.25)
        %50: f32[B, S, 4, 16] = transpose(%49, dim0=1, dim1=2)
        %51: f32[B, S, 64] = reshape(%50, shape=[B, S, 64])
        module transformer.h.0.attn.c_proj : Conv1D {
          %52: f32[B*S, 64] = reshape(%51, shape=[B*S, 64])
          %53: f32[B*S, 64] = addmm(transformer.h.0.attn.c_proj.bias, %52, transformer.h.0.attn.c_proj.weight)
          %54: f32[B, S, 64] = reshape(%53, shape=[B, S, 64])
        }
      }
      %55: f32[B, S, 64] = add(%54, %4)
      module transformer.h.0.ln_2 : LayerNorm {
        %56: f32[B, S, 64] = layer_norm(%55, transformer.h.0.ln_2.weight, transformer.h.0.ln_2.bias, normalized_shape=[64])
      }
      module transformer.h.0.mlp : GPT2MLP {
        module transformer.h.0.mlp.c_fc : Conv1D {
          %57: f32[B*S, 64] = reshape(%56, shape=[B*S, 64])
          %58: f32[B*S, 256] = addmm(transformer.h.0.mlp.c_fc.bias, %57, transformer.h.0.mlp.c_fc.weight)
          %59: f32[B, S, 256] = reshape(%58, shape=[B, S, 256])
        }
        module transformer.h.0.mlp.act : NewGELUActivation {
          %60: f32[B, S, 256] = mul(%59, 0.5)
          %61: f32[B, S, 256] = pow(%59, 3.0)
          %62: f32[B, S, 256] = mul(%61, 0.044715)
          %63: f32[B, S, 256] = add(%59, %62)
          %64: f32[B, S, 256] = mul(%63, 0.7978845608028654)
          %65: f32[B, S, 256] = tanh(%64)
          %66: f32[B, S, 256] = add(%65, 1.0)
          %67: f32[B, S, 256] = mul(%60, %66)
        }
        module transformer.h.0.mlp.c_proj : Conv1D {
          %68: f32[B*S, 256] = reshape(%67, shape=[B*S, 256])
          %69: f32[B*S, 64] = addmm(transformer.h.0.mlp.c_proj.bias, %68, transformer.h.0.mlp.c_proj.weight)
          %70: f32[B, S, 64] = reshape(%69, shape=[B, S, 64])
        }
      }
      %71: f32[B, S, 64] = add(%55, %70)
    }
    module transformer.h.1 : GPT2Block {
      module transformer.h.1.ln_1 : LayerNorm {
        %72: f32[B, S, 64] = layer_norm(%71, transformer.h.1.ln_1.weight, transformer.h.1.ln_1.bias, normalized_shape=[64])
      }
      module transformer.h.1.attn : GPT2Attention {
        module transformer.h.1.attn.c_attn : Conv1D {
          %73: f32[B*S, 64] = reshape(%72, shape=[B*S, 64])
          %74: f32[B*S, 192] = addmm(transformer.h.1.attn.c_attn.bias, %73, transformer.h.1.attn.c_attn.weight)
          %75: f32[B, S, 192] = reshape(%74, shape=[B, S, 192])
        }
        %76: f32[B, S, 64], %77: f32[B, S, 64], %78: f32[B, S, 64] = split(%75, dim=2, sizes=[64, 64, 64])
        %79: f32[B, S, 4, 16] = reshape(%77, shape=[B, S, 4, 16])
        %80: f32[B, 4, S, 16] = transpose(%79, dim0=1, dim1=2)
        %81: f32[B, S, 4, 16] = reshape(%78, shape=[B, S, 4, 16])
        %82: f32[B, 4, S, 16] = transpose(%81, dim0=1, dim1=2)
        %83: f32[B, S, 4, 16] = reshape(%76, shape=[B, S, 4, 16])
        %84: f32[B, 4, S, 16] = transpose(%83, dim0=1, dim1=2)
        %85: f32[B, 4, S, 16] = attention(%84, %80, %82, %35, scale=0.25)
        %86: f32[B, S, 4, 16] = transpose(%85, dim0=1, dim1=2)
        %87: f32[B, S, 64] = reshape(%86, shape=[B, S, 64])
        module transformer.h.1.attn.c_proj : Conv1D {
          %88: f32[B*S, 64] = reshape(%87, shape=[B*S, 64])
          %89: f32[B*S, 64] = addmm(transformer.h.1.attn.c_proj.bias, %88, transformer.h.1.attn.c_proj.weight)
          %90: f32[B, S, 64] = reshape(%89, shape=[B, S, 64])
        }
      }
      %91: f32[B, S, 64] = add(%90, %71)
      module transformer.h.1.ln_2 : LayerNorm {
        %92: f32[B, S, 64] = layer_norm(%91, transformer.h.1.ln_2.weight, transformer.h.1.ln_2.bias, normalized_shape=[64])
      }
      module transformer.h.1.mlp : GPT2MLP {
        module transformer.h.1.mlp.c_fc : Conv1D {
          %93: f32[B*S, 64] = reshape(%92, shape=[B*S, 64])
          %94: f32[B*S, 256] = addmm(transformer.h.1.mlp.c_fc.bias, %93, transformer.h.1.mlp.c_fc.weight)
          %95: f32[B, S, 256] = reshape(%94, shape=[B, S, 256])
        }
        module transformer.h.1.mlp.act : NewGELUActivation {
          %96: f32[B, S, 256] = mul(%95, 0.5)
          %97: f32[B, S, 256] = pow(%95, 3.0)
          %98: f32[B, S, 256] = mul(%97, 0.044715)
          %99: f32[B, S, 256] = add(%95, %98)
          %100: f32[B, S, 256] = mul(%99, 0.7978845608028654)
          %101: f32[B, S, 256] = tanh(%100)
          %102: f32[B, S, 256] = add(%101, 1.0)
          %103: f32[B, S, 256] = mul(%96, %102)
        }
        module transformer.h.1.mlp.c_proj : Conv1D {
          %104: f32[B*S, 256] = reshape(%103, shape=[B*S, 256])
          %105: f32[B*S, 64] = addmm(transformer.h.1.mlp.c_proj.bias, %104, transformer.h.1.mlp.c_proj.weight)
          %106: f32[B, S, 64] = reshape(%105, shape=[B, S, 64])
        }
      }
      %107: f32[B, S, 64] = add(%91, %106)
    }
    module transformer.ln_f : LayerNorm {
      %108: f32[B, S, 64] = layer_norm(%107, transformer.ln_f.weight, transformer.ln_f.bias, normalized_shape=[64])
    }
  }
  module lm_head : Linear {
    %109: f32[B, S, 128] = linear(%108, lm_head.weight)
  }
  return %109
}
