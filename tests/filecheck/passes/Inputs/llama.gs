// Snapshot of examples/models.py:llama() imported with graphsynth.import_torch (random weights); input of the pass tests.
graph LlamaForCausalLM(input_ids: i64[B, S]) -> f32[B, S, 128] {
  param model.embed_tokens.weight: f32[128, 64]
  param model.layers.0.self_attn.q_proj.weight: f32[64, 64]
  param model.layers.0.self_attn.k_proj.weight: f32[32, 64]
  param model.layers.0.self_attn.v_proj.weight: f32[32, 64]
  param model.layers.0.self_attn.o_proj.weight: f32[64, 64]
  param model.layers.0.mlp.gate_proj.weight: f32[128, 64]
  param model.layers.0.mlp.up_proj.weight: f32[128, 64]
  param model.layers.0.mlp.down_proj.weight: f32[64, 128]
  param model.layers.0.input_layernorm.weight: f32[64]
  param model.layers.0.post_attention_layernorm.weight: f32[64]
  param model.layers.1.self_attn.q_proj.weight: f32[64, 64]
  param model.layers.1.self_attn.k_proj.weight: f32[32, 64]
  param model.layers.1.self_attn.v_proj.weight: f32[32, 64]
  param model.layers.1.self_attn.o_proj.weight: f32[64, 64]
  param model.layers.1.mlp.gate_proj.weight: f32[128, 64]
  param model.layers.1.mlp.up_proj.weight: f32[128, 64]
  param model.layers.1.mlp.down_proj.weight: f32[64, 128]
  param model.layers.1.input_layernorm.weight: f32[64]
  param model.layers.1.post_attention_layernorm.weight: f32[64]
  param model.norm.weight: f32[64]
  param lm_head.weight: f32[128, 64]
  module model : LlamaModel {
    module model.embed_tokens : Embedding {
      %0: f32[B, S, 64] = embedding(model.embed_tokens.weight, input_ids)
    }
    %1: i64[S] = arange(end=S)
    %2: i64[1, S] = unsqueeze(%1, dim=0)
    %3: i64[B, S] = expand(%2, shape=[B, S])
    %4: i64[B, 1] = slice(%3, dim=1, end=1)
    %5: i64[B, 1] = sub(%4, 1)
    %6: i64[B, S+1] = concat(%5, %3, dim=-1)
    %7: i64[B, S] = slice(%6, dim=-1, start=1)
    %8: i64[B, S] = slice(%6, dim=-1, end=-1)
    %9: i64[B, S] = sub(%7, %8)
    %10: bool[B, S] = ne(%9, 1)
    %11: i64[B, S] = cumsum(%10, dim=-1)
    %12: i64[B, S] = expand(%2, shape=[B, S])
    %13: i64[B] = arange(end=B)
    %14: i64[S] = arange(end=S)
    %15: i64[S] = arange(end=S)
    %16: i64[B, 1] = unsqueeze(%13, dim=1)
    %17: i64[B, 1, 1] = unsqueeze(%16, dim=2)
    %18: i64[B, 1, 1, 1] = unsqueeze(%17, dim=3)
    %19: i64[1, S] = unsqueeze(%14, dim=0)
    %20: i64[1, 1, S] = unsqueeze(%19, dim=1)
    %21: i64[1, 1, S, 1] = unsqueeze(%20, dim=3)
    %22: i64[1, S] = unsqueeze(%15, dim=0)
    %23: i64[1, 1, S] = unsqueeze(%22, dim=1)
    %24: i64[1, 1, 1, S] = unsqueeze(%23, dim=2)
    %25: bool[] = full(shape=[], value=true, dtype=bool)
    %26: i64[B, 1, S, 1] = index(%11, %18, %21)
    %27: i64[B, 1, 1, S] = index(%11, %18, %24)
    %28: bool[B, 1, S, S] = eq(%26, %27)
    %29: bool[B, 1, S, S] = logical_and(%25, %28)
    %30: i64[B, 1, S, 1] = index(%12, %18, %21)
    %31: i64[B, 1, 1, S] = index(%12, %18, %24)
    %32: bool[B, 1, S, S] = le(%31, %30)
    %33: bool[B, 1, S, S] = logical_and(%29, %32)
    module model.rotary_emb : LlamaRotaryEmbedding {
      %34: f32[8] = constant(value=[1.0, 0.3162277638912201, 0.10000000149011612, 0.03162277862429619, 0.009999999776482582, 0.003162277862429619, 0.0010000000474974513, 0.0003162277862429619], shape=[8], dtype=f32)
      %35: i64[1, S, 1] = unsqueeze(%2, dim=2)
      %36: f32[1, S, 1] = cast(%35, dtype=f32)
      %37: f32[1, S, 8] = mul(%36, %34)
      %38: f32[1, S, 16] = concat(%37, %37, dim=-1)
      %39: f32[1, S, 16] = cos(%38)
      %40: f32[1, S, 16] = sin(%38)
    }
    module model.layers.0 : LlamaDecoderLayer {
      module model.layers.0.input_layernorm : LlamaRMSNorm {
        %41: f32[B, S, 64] = pow(%0, 2)
        %42: f32[B, S, 1] = mean(%41, dims=[-1], keepdim=true)
        %43: f32[B, S, 1] = add(%42, 1e-06)
        %44: f32[B, S, 1] = rsqrt(%43)
        %45: f32[B, S, 64] = mul(%0, %44)
        %46: f32[B, S, 64] = mul(model.layers.0.input_layernorm.weight, %45)
      }
      module model.layers.0.self_attn : LlamaAttention {
        module model.layers.0.self_attn.q_proj : Linear {
          %47: f32[B, S, 64] = linear(%46, model.layers.0.self_attn.q_proj.weight)
        }
        %48: f32[B, S, 4, 16] = reshape(%47, shape=[B, S, 4, 16])
        %49: f32[B, 4, S, 16] = transpose(%48, dim0=1, dim1=2)
        module model.layers.0.self_attn.k_proj : Linear {
          %50: f32[B, S, 32] = linear(%46, model.layers.0.self_attn.k_proj.weight)
        }
        %51: f32[B, S, 2, 16] = reshape(%50, shape=[B, S, 2, 16])
        %52: f32[B, 2, S, 16] = transpose(%51, dim0=1, dim1=2)
        module model.layers.0.self_attn.v_proj : Linear {
          %53: f32[B, S, 32] = linear(%46, model.layers.0.self_attn.v_proj.weight)
        }
        %54: f32[B, S, 2, 16] = reshape(%53, shape=[B, S, 2, 16])
        %55: f32[B, 2, S, 16] = transpose(%54, dim0=1, dim1=2)
        %56: f32[1, 1, S, 16] = unsqueeze(%39, dim=1)
        %57: f32[1, 1, S, 16] = unsqueeze(%40, dim=1)
        %58: f32[B, 4, S, 16] = mul(%49, %56)
        %59: f32[B, 4, S, 8] = slice(%49, dim=3, end=8)
        %60: f32[B, 4, S, 8] = slice(%49, dim=3, start=8)
        %61: f32[B, 4, S, 8] = neg(%60)
        %62: f32[B, 4, S, 16] = concat(%61, %59, dim=-1)
        %63: f32[B, 4, S, 16] = mul(%62, %57)
        %64: f32[B, 4, S, 16] = add(%58, %63)
        %65: f32[B, 2, S, 16] = mul(%52, %56)
        %66: f32[B, 2, S, 8] = slice(%52, dim=3, end=8)
        %67: f32[B, 2, S, 8] = slice(%52, dim=3, start=8)
        %68: f32[B, 2, S, 8] = neg(%67)
        %69: f32[B, 2, S, 16] = concat(%68, %66, dim=-1)
        %70: f32[B, 2, S, 16] = mul(%69, %57)
        %71: f32[B, 2, S, 16] = add(%65, %70)
        %72: f32[B, 2, 1, S, 16] = unsqueeze(%71, dim=2)
        %73: f32[B, 2, 2, S, 16] = expand(%72, shape=[B, 2, 2, S, 16])
        %74: f32[B, 4, S, 16] = reshape(%73, shape=[B, 4, S, 16])
        %75: f32[B, 2, 1, S, 16] = unsqueeze(%55, dim=2)
        %76: f32[B, 2, 2, S, 16] = expand(%75, shape=[B, 2, 2, S, 16])
        %77: f32[B, 4, S, 16] = reshape(%76, shape=[B, 4, S, 16])
        %78: f32[B, 4, S, 16] = attention(%64, %74, %77, %33, scale=0.25)
        %79: f32[B, S, 4, 16] = transpose(%78, dim0=1, dim1=2)
        %80: f32[B, S, 64] = reshape(%79, shape=[B, S, 64])
        module model.layers.0.self_attn.o_proj : Linear {
          %81: f32[B, S, 64] = linear(%80, model.layers.0.self_attn.o_proj.weight)
        }
      }
      %82: f32[B, S, 64] = add(%0, %81)
      module model.layers.0.post_attention_layernorm : LlamaRMSNorm {
        %83: f32[B, S, 64] = pow(%82, 2)
        %84: f32[B, S, 1] = mean(%83, dims=[-1], keepdim=true)
        %85: f32[B, S, 1] = add(%84, 1e-06)
        %86: f32[B, S, 1] = rsqrt(%85)
        %87: f32[B, S, 64] = mul(%82, %86)
        %88: f32[B, S, 64] = mul(model.layers.0.post_attention_layernorm.weight, %87)
      }
      module model.layers.0.mlp : LlamaMLP {
        module model.layers.0.mlp.gate_proj : Linear {
          %89: f32[B, S, 128] = linear(%88, model.layers.0.mlp.gate_proj.weight)
        }
        module model.layers.0.mlp.act_fn : SiLUActivation {
          %90: f32[B, S, 128] = silu(%89)
        }
        module model.layers.0.mlp.up_proj : Linear {
          %91: f32[B, S, 128] = linear(%88, model.layers.0.mlp.up_proj.weight)
        }
        %92: f32[B, S, 128] = mul(%90, %91)
        module model.layers.0.mlp.down_proj : Linear {
          %93: f32[B, S, 64] = linear(%92, model.layers.0.mlp.down_proj.weight)
        }
      }
      %94: f32[B, S, 64] = add(%82, %93)
    }
    module model.layers.1 : LlamaDecoderLayer {
      module model.layers.1.input_layernorm : LlamaRMSNorm {
        %95: f32[B, S, 64] = pow(%94, 2)
        %96: f32[B, S, 1] = mean(%95, dims=[-1], keepdim=true)
        %97: f32[B, S, 1] = add(%96, 1e-06)
        %98: f32[B, S, 1] = rsqrt(%97)
        %99: f32[B, S, 64] = mul(%94, %98)
        %100: f32[B, S, 64] = mul(model.layers.1.input_layernorm.weight, %99)
      }
      module model.layers.1.self_attn : LlamaAttention {
        module model.layers.1.self_attn.q_proj : Linear {
          %101: f32[B, S, 64] = linear(%100, model.layers.1.self_attn.q_proj.weight)
        }
        %102: f32[B, S, 4, 16] = reshape(%101, shape=[B, S, 4, 16])
        %103: f32[B, 4, S, 16] = transpose(%102, dim0=1, dim1=2)
        module model.layers.1.self_attn.k_proj : Linear {
          %104: f32[B, S, 32] = linear(%100, model.layers.1.self_attn.k_proj.weight)
        }
        %105: f32[B, S, 2, 16] = reshape(%104, shape=[B, S, 2, 16])
        %106: f32[B, 2, S, 16] = transpose(%105, dim0=1, dim1=2)
        module model.layers.1.self_attn.v_proj : Linear {
          %107: f32[B, S, 32] = linear(%100, model.layers.1.self_attn.v_proj.weight)
        }
        %108: f32[B, S, 2, 16] = reshape(%107, shape=[B, S, 2, 16])
        %109: f32[B, 2, S, 16] = transpose(%108, dim0=1, dim1=2)
        %110: f32[1, 1, S, 16] = unsqueeze(%39, dim=1)
        %111: f32[1, 1, S, 16] = unsqueeze(%40, dim=1)
        %112: f32[B, 4, S, 16] = mul(%103, %110)
        %113: f32[B, 4, S, 8] = slice(%103, dim=3, end=8)
        %114: f32[B, 4, S, 8] = slice(%103, dim=3, start=8)
        %115: f32[B, 4, S, 8] = neg(%114)
        %116: f32[B, 4, S, 16] = concat(%115, %113, dim=-1)
        %117: f32[B, 4, S, 16] = mul(%116, %111)
        %118: f32[B, 4, S, 16] = add(%112, %117)
        %119: f32[B, 2, S, 16] = mul(%106, %110)
        %120: f32[B, 2, S, 8] = slice(%106, dim=3, end=8)
        %121: f32[B, 2, S, 8] = slice(%106, dim=3, start=8)
        %122: f32[B, 2, S, 8] = neg(%121)
        %123: f32[B, 2, S, 16] = concat(%122, %120, dim=-1)
        %124: f32[B, 2, S, 16] = mul(%123, %111)
        %125: f32[B, 2, S, 16] = add(%119, %124)
        %126: f32[B, 2, 1, S, 16] = unsqueeze(%125, dim=2)
        %127: f32[B, 2, 2, S, 16] = expand(%126, shape=[B, 2, 2, S, 16])
        %128: f32[B, 4, S, 16] = reshape(%127, shape=[B, 4, S, 16])
        %129: f32[B, 2, 1, S, 16] = unsqueeze(%109, dim=2)
        %130: f32[B, 2, 2, S, 16] = expand(%129, shape=[B, 2, 2, S, 16])
        %131: f32[B, 4, S, 16] = reshape(%130, shape=[B, 4, S, 16])
        %132: f32[B, 4, S, 16] = attention(%118, %128, %131, %33, scale=0.25)
        %133: f32[B, S, 4, 16] = transpose(%132, dim0=1, dim1=2)
        %134: f32[B, S, 64] = reshape(%133, shape=[B, S, 64])
        module model.layers.1.self_attn.o_proj : Linear {
          %135: f32[B, S, 64] = linear(%134, model.layers.1.self_attn.o_proj.weight)
        }
      }
      %136: f32[B, S, 64] = add(%94, %135)
      module model.layers.1.post_attention_layernorm : LlamaRMSNorm {
        %137: f32[B, S, 64] = pow(%136, 2)
        %138: f32[B, S, 1] = mean(%137, dims=[-1], keepdim=true)
        %139: f32[B, S, 1] = add(%138, 1e-06)
        %140: f32[B, S, 1] = rsqrt(%139)
        %141: f32[B, S, 64] = mul(%136, %140)
        %142: f32[B, S, 64] = mul(model.layers.1.post_attention_layernorm.weight, %141)
      }
      module model.layers.1.mlp : LlamaMLP {
        module model.layers.1.mlp.gate_proj : Linear {
          %143: f32[B, S, 128] = linear(%142, model.layers.1.mlp.gate_proj.weight)
        }
        module model.layers.1.mlp.act_fn : SiLUActivation {
          %144: f32[B, S, 128] = silu(%143)
        }
        module model.layers.1.mlp.up_proj : Linear {
          %145: f32[B, S, 128] = linear(%142, model.layers.1.mlp.up_proj.weight)
        }
        %146: f32[B, S, 128] = mul(%144, %145)
        module model.layers.1.mlp.down_proj : Linear {
          %147: f32[B, S, 64] = linear(%146, model.layers.1.mlp.down_proj.weight)
        }
      }
      %148: f32[B, S, 64] = add(%136, %147)
    }
    module model.norm : LlamaRMSNorm {
      %149: f32[B, S, 64] = pow(%148, 2)
      %150: f32[B, S, 1] = mean(%149, dims=[-1], keepdim=true)
      %151: f32[B, S, 1] = add(%150, 1e-06)
      %152: f32[B, S, 1] = rsqrt(%151)
      %153: f32[B, S, 64] = mul(%148, %152)
      %154: f32[B, S, 64] = mul(model.norm.weight, %153)
    }
  }
  module lm_head : Linear {
    %155: f32[B, S, 128] = linear(%154, lm_head.weight)
  }
  return %155
}
