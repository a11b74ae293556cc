// Snapshot of examples/models.py:bert() imported with graphsynth.import_torch (random weights); input of the pass tests.
graph BertModel(input_ids: i64[B, S], attention_mask: i64[B, S]) -> (f32[B, S, 64], f32[B, 64]) {
  param embeddings.word_embeddings.weight: f32[128, 64]
  param embeddings.position_embeddings.weight: f32[64, 64]
  param embeddings.token_type_embeddings.weight: f32[2, 64]
  param embeddings.LayerNorm.weight: f32[64]
  param embeddings.LayerNorm.bias: f32[64]
  param encoder.layer.0.attention.self.query.weight: f32[64, 64]
  param encoder.layer.0.attention.self.query.bias: f32[64]
  param encoder.layer.0.attention.self.key.weight: f32[64, 64]
  param encoder.layer.0.attention.self.key.bias: f32[64]
  param encoder.layer.0.attention.self.value.weight: f32[64, 64]
  param encoder.layer.0.attention.self.value.bias: f32[64]
  param encoder.layer.0.attention.output.dense.weight: f32[64, 64]
  param encoder.layer.0.attention.output.dense.bias: f32[64]
  param encoder.layer.0.attention.output.LayerNorm.weight: f32[64]
  param encoder.layer.0.attention.output.LayerNorm.bias: f32[64]
  param encoder.layer.0.intermediate.dense.weight: f32[128, 64]
  param encoder.layer.0.intermediate.dense.bias: f32[128]
  param encoder.layer.0.output.dense.weight: f32[64, 128]
  param encoder.layer.0.output.dense.bias: f32[64]
  param encoder.layer.0.output.LayerNorm.weight: f32[64]
  param encoder.layer.0.output.LayerNorm.bias: f32[64]
  param encoder.layer.1.attention.self.query.weight: f32[64, 64]
  param encoder.layer.1.attention.self.query.bias: f32[64]
  param encoder.layer.1.attention.self.key.weight: f32[64, 64]
  param encoder.layer.1.attention.self.key.bias: f32[64]
  param encoder.layer.1.attention.self.value.weight: f32[64, 64]
  param encoder.layer.1.attention.self.value.bias: f32[64]
  param encoder.layer.1.attention.output.dense.weight: f32[64, 64]
  param encoder.layer.1.attention.output.dense.bias: f32[64]
  param encoder.layer.1.attention.output.LayerNorm.weight: f32[64]
  param encoder.layer.1.attention.output.LayerNorm.bias: f32[64]
  param encoder.layer.1.intermediate.dense.weight: f32[128, 64]
  param encoder.layer.1.intermediate.dense.bias: f32[128]
  param encoder.layer.1.output.dense.weight: f32[64, 128]
  param encoder.layer.1.output.dense.bias: f32[64]
  param encoder.layer.1.output.LayerNorm.weight: f32[64]
  param encoder.layer.1.output.LayerNorm.bias: f32[64]
  param pooler.dense.weight: f32[64, 64]
  param pooler.dense.bias: f32[64]
  module embeddings : BertEmbeddings {
    %0: i64[64] = arange(end=64)
    %1: i64[1, 64] = reshape(%0, shape=[1, 64])
    %2: i64[1, S] = slice(%1, dim=1, end=S)
    %3: i64[1, 64] = full(shape=[1, 64], value=0, dtype=i64)
    %4: i64[1, S] = gather(%3, %2, dim=1)
    %5: i64[B, S] = expand(%4, shape=[B, S])
    module embeddings.word_embeddings : Embedding {
      %6: f32[B, S, 64] = embedding(embeddings.word_embeddings.weight, input_ids, padding_idx=0)
    }
    module embeddings.token_type_embeddings : Embedding {
      %7: f32[B, S, 64] = embedding(embeddings.token_type_embeddings.weight, %5)
    }
    %8: f32[B, S, 64] = add(%6, %7)
    module embeddings.position_embeddings : Embedding {
      %9: f32[1, S, 64] = embedding(embeddings.position_embeddings.weight, %2)
    }
    %10: f32[B, S, 64] = add(%8, %9)
    module embeddings.LayerNorm : LayerNorm {
      %11: f32[B, S, 64] = layer_norm(%10, embeddings.LayerNorm.weight, embeddings.LayerNorm.bias, normalized_shape=[64], eps=1e-12)
    }
  }
  %12: bool[B, S] = cast(attention_mask, dtype=bool)
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
  %26: bool[1, 1, S, 1] = ge(%21, 0)
  %27: bool[1, 1, S, 1] = logical_and(%25, %26)
  %28: bool[B, 1, 1, S] = index(%12, %18, %24)
  %29: bool[B, 1, S, S] = logical_and(%27, %28)
  module encoder : BertEncoder {
    module encoder.layer.0 : BertLayer {
      module encoder.layer.0.attention : BertAttention {
        module encoder.layer.0.attention.self : BertSelfAttention {
          module encoder.layer.0.attention.self.query : Linear {
            %30: f32[B, S, 64] = linear(%11, encoder.layer.0.attention.self.query.weight, encoder.layer.0.attention.self.query.bias)
          }
          %31: f32[B, S, 4, 16] = reshape(%30, shape=[B, S, 4, 16])
          %32: f32[B, 4, S, 16] = transpose(%31, dim0=1, dim1=2)
          module encoder.layer.0.attention.self.key : Linear {
            %33: f32[B, S, 64] = linear(%11, encoder.layer.0.attention.self.key.weight, encoder.layer.0.attention.self.key.bias)
          }
          %34: f32[B, S, 4, 16] = reshape(%33, shape=[B, S, 4, 16])
          %35: f32[B, 4, S, 16] = transpose(%34, dim0=1, dim1=2)
          module encoder.layer.0.attention.self.value : Linear {
            %36: f32[B, S, 64] = linear(%11, encoder.layer.0.attention.self.value.weight, encoder.layer.0.attention.self.value.bias)
          }
          %37: f32[B, S, 4, 16] = reshape(%36, shape=[B, S, 4, 16])
          %38: f32[B, 4, S, 16] = transpose(%37, dim0=1, dim1=2)
          %39: f32[B, 4, S, 16] = attention(%32, %35, %38, %29, scale=0.25)
          %40: f32[B, S, 4, 16] = transpose(%39, dim0=1, dim1=2)
          %41: f32[B, S, 64] = reshape(%40, shape=[B, S, 64])
        }
        module encoder.layer.0.attention.output : BertSelfOutput {
          module encoder.layer.0.attention.output.dense : Linear {
            %42: f32[B, S, 64] = linear(%41, encoder.layer.0.attention.output.dense.weight, encoder.layer.0.attention.output.dense.bias)
          }
          %43: f32[B, S, 64] = add(%42, %11)
          module encoder.layer.0.attention.output.LayerNorm : LayerNorm {
            %44: f32[B, S, 64] = layer_norm(%43, encoder.layer.0.attention.output.LayerNorm.weight, encoder.layer.0.attention.output.LayerNorm.bias, normalized_shape=[64], eps=1e-12)
          }
        }
      }
      module encoder.layer.0.intermediate : BertIntermediate {
        module encoder.layer.0.intermediate.dense : Linear {
          %45: f32[B, S, 128] = linear(%44, encoder.layer.0.intermediate.dense.weight, encoder.layer.0.intermediate.dense.bias)
        }
        module encoder.layer.0.intermediate.intermediate_act_fn : GELUActivation {
          %46: f32[B, S, 128] = gelu(%45)
        }
      }
      module encoder.layer.0.output : BertOutput {
        module encoder.layer.0.output.dense : Linear {
          %47: f32[B, S, 64] = linear(%46, encoder.layer.0.output.dense.weight, encoder.layer.0.output.dense.bias)
        }
        %48: f32[B, S, 64] = add(%47, %44)
        module encoder.layer.0.output.LayerNorm : LayerNorm {
          %49: f32[B, S, 64] = layer_norm(%48, encoder.layer.0.output.LayerNorm.weight, encoder.layer.0.output.LayerNorm.bias, normalized_shape=[64], eps=1e-12)
        }
      }
    }
    module encoder.layer.1 : BertLayer {
      module encoder.layer.1.attention : BertAttention {
        module encoder.layer.1.attention.self : BertSelfAttention {
          module encoder.layer.1.attention.self.query : Linear {
            %50: f32[B, S, 64] = linear(%49, encoder.layer.1.attention.self.query.weight, encoder.layer.1.attention.self.query.bias)
          }
          %51: f32[B, S, 4, 16] = reshape(%50, shape=[B, S, 4, 16])
          %52: f32[B, 4, S, 16] = transpose(%51, dim0=1, dim1=2)
          module encoder.layer.1.attention.self.key : Linear {
            %53: f32[B, S, 64] = linear(%49, encoder.layer.1.attention.self.key.weight, encoder.layer.1.attention.self.key.bias)
          }
          %54: f32[B, S, 4, 16] = reshape(%53, shape=[B, S, 4, 16])
          %55: f32[B, 4, S, 16] = transpose(%54, dim0=1, dim1=2)
          module encoder.layer.1.attention.self.value : Linear {
            %56: f32[B, S, 64] = linear(%49, encoder.layer.1.attention.self.value.weight, encoder.layer.1.attention.self.value.bias)
          }
          %57: f32[B, S, 4, 16] = reshape(%56, shape=[B, S, 4, 16])
          %58: f32[B, 4, S, 16] = transpose(%57, dim0=1, dim1=2)
          %59: f32[B, 4, S, 16] = attention(%52, %55, %58, %29, scale=0.25)
          %60: f32[B, S, 4, 16] = transpose(%59, dim0=1, dim1=2)
          %61: f32[B, S, 64] = reshape(%60, shape=[B, S, 64])
        }
        module encoder.layer.1.attention.output : BertSelfOutput {
          module encoder.layer.1.attention.output.dense : Linear {
            %62: f32[B, S, 64] = linear(%61, encoder.layer.1.attention.output.dense.weight, encoder.layer.1.attention.output.dense.bias)
          }
          %63: f32[B, S, 64] = add(%62, %49)
          module encoder.layer.1.attention.output.LayerNorm : LayerNorm {
            %64: f32[B, S, 64] = layer_norm(%63, encoder.layer.1.attention.output.LayerNorm.weight, encoder.layer.1.attention.output.LayerNorm.bias, normalized_shape=[64], eps=1e-12)
          }
        }
      }
      module encoder.layer.1.intermediate : BertIntermediate {
        module encoder.layer.1.intermediate.dense : Linear {
          %65: f32[B, S, 128] = linear(%64, encoder.layer.1.intermediate.dense.weight, encoder.layer.1.intermediate.dense.bias)
        }
        module encoder.layer.1.intermediate.intermediate_act_fn : GELUActivation {
          %66: f32[B, S, 128] = gelu(%65)
        }
      }
      module encoder.layer.1.output : BertOutput {
        module encoder.layer.1.output.dense : Linear {
          %67: f32[B, S, 64] = linear(%66, encoder.layer.1.output.dense.weight, encoder.layer.1.output.dense.bias)
        }
        %68: f32[B, S, 64] = add(%67, %64)
        module encoder.layer.1.output.LayerNorm : LayerNorm {
          %69: f32[B, S, 64] = layer_norm(%68, encoder.layer.1.output.LayerNorm.weight, encoder.layer.1.output.LayerNorm.bias, normalized_shape=[64], eps=1e-12)
        }
      }
    }
  }
  module pooler : BertPooler {
    %70: f32[B, 64] = select(%69, dim=1, index=0)
    module pooler.dense : Linear {
      %71: f32[B, 64] = linear(%70, pooler.dense.weight, pooler.dense.bias)
    }
    module pooler.activation : Tanh {
      %72: f32[B, 64] = tanh(%71)
    }
  }
  return %69, %72
}
