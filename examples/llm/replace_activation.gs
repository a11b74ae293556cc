// Goal: replace every ReLU with GELU.
graph ConvNet(x: f32[N, 3, H, W]) -> f32[N, 10] {
  param conv1.weight: f32[16, 3, 3, 3]
  param conv1.bias: f32[16]
  param conv2.weight: f32[32, 16, 3, 3]
  param conv2.bias: f32[32]
  param fc.weight: f32[10, 32]
  param fc.bias: f32[10]
  module conv1 : Conv2d {
    %0: f32[N, 16, H, W] = conv2d(x, conv1.weight, conv1.bias, padding=[1, 1])
  }
  %1: f32[N, 16, H, W] = relu(%0)
  module conv2 : Conv2d {
    %2: f32[N, 32, H, W] = conv2d(%1, conv2.weight, conv2.bias, padding=[1, 1])
  }
  %3: f32[N, 32, H, W] = relu(%2)
  %4: f32[N, 32, 1, 1] = adaptive_avg_pool2d(%3, output_size=[1, 1])
  %5: f32[N, 32] = flatten(%4, start_dim=1)
  module fc : Linear {
    %6: f32[N, 10] = linear(%5, fc.weight, fc.bias)
  }
  %7: f32[N, 10] = relu(%6)
  return %7
}
