// Snapshot of examples/models.py:resnet() imported with graphsynth.import_torch (random weights); input of the pass tests.
graph ResNetModel(pixel_values: f32[B, 3, 32, 32]) -> (f32[B, 32, 4, 4], f32[B, 32, 1, 1]) {
  param embedder.embedder.convolution.weight: f32[16, 3, 7, 7]
  param embedder.embedder.normalization.weight: f32[16]
  param embedder.embedder.normalization.bias: f32[16]
  buffer embedder.embedder.normalization.running_mean: f32[16]
  buffer embedder.embedder.normalization.running_var: f32[16]
  buffer embedder.embedder.normalization.num_batches_tracked: i64[]
  param encoder.stages.0.layers.0.layer.0.convolution.weight: f32[16, 16, 3, 3]
  param encoder.stages.0.layers.0.layer.0.normalization.weight: f32[16]
  param encoder.stages.0.layers.0.layer.0.normalization.bias: f32[16]
  buffer encoder.stages.0.layers.0.layer.0.normalization.running_mean: f32[16]
  buffer encoder.stages.0.layers.0.layer.0.normalization.running_var: f32[16]
  buffer encoder.stages.0.layers.0.layer.0.normalization.num_batches_tracked: i64[]
  param encoder.stages.0.layers.0.layer.1.convolution.weight: f32[16, 16, 3, 3]
  param encoder.stages.0.layers.0.layer.1.normalization.weight: f32[16]
  param encoder.stages.0.layers.0.layer.1.normalization.bias: f32[16]
  buffer encoder.stages.0.layers.0.layer.1.normalization.running_mean: f32[16]
  buffer encoder.stages.0.layers.0.layer.1.normalization.running_var: f32[16]
  buffer encoder.stages.0.layers.0.layer.1.normalization.num_batches_tracked: i64[]
  param encoder.stages.1.layers.0.shortcut.convolution.weight: f32[32, 16, 1, 1]
  param encoder.stages.1.layers.0.shortcut.normalization.weight: f32[32]
  param encoder.stages.1.layers.0.shortcut.normalization.bias: f32[32]
  buffer encoder.stages.1.layers.0.shortcut.normalization.running_mean: f32[32]
  buffer encoder.stages.1.layers.0.shortcut.normalization.running_var: f32[32]
  buffer encoder.stages.1.layers.0.shortcut.normalization.num_batches_tracked: i64[]
  param encoder.stages.1.layers.0.layer.0.convolution.weight: f32[32, 16, 3, 3]
  param encoder.stages.1.layers.0.layer.0.normalization.weight: f32[32]
  param encoder.stages.1.layers.0.layer.0.normalization.bias: f32[32]
  buffer encoder.stages.1.layers.0.layer.0.normalization.running_mean: f32[32]
  buffer encoder.stages.1.layers.0.layer.0.normalization.running_var: f32[32]
  buffer encoder.stages.1.layers.0.layer.0.normalization.num_batches_tracked: i64[]
  param encoder.stages.1.layers.0.layer.1.convolution.weight: f32[32, 32, 3, 3]
  param encoder.stages.1.layers.0.layer.1.normalization.weight: f32[32]
  param encoder.stages.1.layers.0.layer.1.normalization.bias: f32[32]
  buffer encoder.stages.1.layers.0.layer.1.normalization.running_mean: f32[32]
  buffer encoder.stages.1.layers.0.layer.1.normalization.running_var: f32[32]
  buffer encoder.stages.1.layers.0.layer.1.normalization.num_batches_tracked: i64[]
  module embedder : ResNetEmbeddings {
    module embedder.embedder : ResNetConvLayer {
      module embedder.embedder.convolution : Conv2d {
        %0: f32[B, 16, 16, 16] = conv2d(pixel_values, embedder.embedder.convolution.weight, stride=[2, 2], padding=[3, 3])
      }
      module embedder.embedder.normalization : BatchNorm2d {
        %1: f32[B, 16, 16, 16] = batch_norm(%0, embedder.embedder.normalization.weight, embedder.embedder.normalization.bias, embedder.embedder.normalization.running_mean, embedder.embedder.normalization.running_var)
      }
      module embedder.embedder.activation : ReLU {
        %2: f32[B, 16, 16, 16] = relu(%1)
      }
    }
    module embedder.pooler : MaxPool2d {
      %3: f32[B, 16, 8, 8] = max_pool2d(%2, kernel_size=[3, 3], stride=[2, 2], padding=[1, 1])
    }
  }
  module encoder : ResNetEncoder {
    module encoder.stages.0 : ResNetStage {
      module encoder.stages.0.layers.0 : ResNetBasicLayer {
        module encoder.stages.0.layers.0.layer : Sequential {
          module encoder.stages.0.layers.0.layer.0 : ResNetConvLayer {
            module encoder.stages.0.layers.0.layer.0.convolution : Conv2d {
              %4: f32[B, 16, 8, 8] = conv2d(%3, encoder.stages.0.layers.0.layer.0.convolution.weight, padding=[1, 1])
            }
            module encoder.stages.0.layers.0.layer.0.normalization : BatchNorm2d {
              %5: f32[B, 16, 8, 8] = batch_norm(%4, encoder.stages.0.layers.0.layer.0.normalization.weight, encoder.stages.0.layers.0.layer.0.normalization.bias, encoder.stages.0.layers.0.layer.0.normalization.running_mean, encoder.stages.0.layers.0.layer.0.normalization.running_var)
            }
            module encoder.stages.0.layers.0.layer.0.activation : ReLU {
              %6: f32[B, 16, 8, 8] = relu(%5)
            }
          }
          module encoder.stages.0.layers.0.layer.1 : ResNetConvLayer {
            module encoder.stages.0.layers.0.layer.1.convolution : Conv2d {
              %7: f32[B, 16, 8, 8] = conv2d(%6, encoder.stages.0.layers.0.layer.1.convolution.weight, padding=[1, 1])
            }
            module encoder.stages.0.layers.0.layer.1.normalization : BatchNorm2d {
              %8: f32[B, 16, 8, 8] = batch_norm(%7, encoder.stages.0.layers.0.layer.1.normalization.weight, encoder.stages.0.layers.0.layer.1.normalization.bias, encoder.stages.0.layers.0.layer.1.normalization.running_mean, encoder.stages.0.layers.0.layer.1.normalization.running_var)
            }
          }
        }
        %9: f32[B, 16, 8, 8] = add(%8, %3)
        module encoder.stages.0.layers.0.activation : ReLU {
          %10: f32[B, 16, 8, 8] = relu(%9)
        }
      }
    }
    module encoder.stages.1 : ResNetStage {
      module encoder.stages.1.layers.0 : ResNetBasicLayer {
        module encoder.stages.1.layers.0.layer : Sequential {
          module encoder.stages.1.layers.0.layer.0 : ResNetConvLayer {
            module encoder.stages.1.layers.0.layer.0.convolution : Conv2d {
              %11: f32[B, 32, 4, 4] = conv2d(%10, encoder.stages.1.layers.0.layer.0.convolution.weight, stride=[2, 2], padding=[1, 1])
            }
            module encoder.stages.1.layers.0.layer.0.normalization : BatchNorm2d {
              %12: f32[B, 32, 4, 4] = batch_norm(%11, encoder.stages.1.layers.0.layer.0.normalization.weight, encoder.stages.1.layers.0.layer.0.normalization.bias, encoder.stages.1.layers.0.layer.0.normalization.running_mean, encoder.stages.1.layers.0.layer.0.normalization.running_var)
            }
            module encoder.stages.1.layers.0.layer.0.activation : ReLU {
              %13: f32[B, 32, 4, 4] = relu(%12)
            }
          }
          module encoder.stages.1.layers.0.layer.1 : ResNetConvLayer {
            module encoder.stages.1.layers.0.layer.1.convolution : Conv2d {
              %14: f32[B, 32, 4, 4] = conv2d(%13, encoder.stages.1.layers.0.layer.1.convolution.weight, padding=[1, 1])
            }
            module encoder.stages.1.layers.0.layer.1.normalization : BatchNorm2d {
              %15: f32[B, 32, 4, 4] = batch_norm(%14, encoder.stages.1.layers.0.layer.1.normalization.weight, encoder.stages.1.layers.0.layer.1.normalization.bias, encoder.stages.1.layers.0.layer.1.normalization.running_mean, encoder.stages.1.layers.0.layer.1.normalization.running_var)
            }
          }
        }
        module encoder.stages.1.layers.0.shortcut : ResNetShortCut {
          module encoder.stages.1.layers.0.shortcut.convolution : Conv2d {
            %16: f32[B, 32, 4, 4] = conv2d(%10, encoder.stages.1.layers.0.shortcut.convolution.weight, stride=[2, 2])
          }
          module encoder.stages.1.layers.0.shortcut.normalization : BatchNorm2d {
            %17: f32[B, 32, 4, 4] = batch_norm(%16, encoder.stages.1.layers.0.shortcut.normalization.weight, encoder.stages.1.layers.0.shortcut.normalization.bias, encoder.stages.1.layers.0.shortcut.normalization.running_mean, encoder.stages.1.layers.0.shortcut.normalization.running_var)
          }
        }
        %18: f32[B, 32, 4, 4] = add(%15, %17)
        module encoder.stages.1.layers.0.activation : ReLU {
          %19: f32[B, 32, 4, 4] = relu(%18)
        }
      }
    }
  }
  module pooler : AdaptiveAvgPool2d {
    %20: f32[B, 32, 1, 1] = adaptive_avg_pool2d(%19, output_size=[1, 1])
  }
  return %19, %20
}
