// A small conv net: symbolic batch B and image size H x W; stride-2 conv gives (H+2)//4.
graph ConvNet(x: f32[B, 3, H, W]) -> f32[B, 10] {
  param conv1.weight: f32[16, 3, 3, 3]
  param conv1.bias: f32[16]
  param bn1.weight: f32[16]
  param bn1.bias: f32[16]
  buffer bn1.running_mean: f32[16]
  buffer bn1.running_var: f32[16]
  buffer bn1.num_batches_tracked: i64[]
  param conv2.weight: f32[32, 16, 3, 3]
  param conv2.bias: f32[32]
  param bn2.weight: f32[32]
  param bn2.bias: f32[32]
  buffer bn2.running_mean: f32[32]
  buffer bn2.running_var: f32[32]
  buffer bn2.num_batches_tracked: i64[]
  param fc.weight: f32[10, 32]
  param fc.bias: f32[10]
  module conv1 : Conv2d {
    %0: f32[B, 16, H, W] = conv2d(x, conv1.weight, conv1.bias, padding=[1, 1])
  }
  module bn1 : BatchNorm2d {
    %1: f32[B, 16, H, W] = batch_norm(%0, bn1.weight, bn1.bias, bn1.running_mean, bn1.running_var)
  }
  %2: f32[B, 16, H, W] = relu(%1)
  %3: f32[B, 16, H//2, W//2] = max_pool2d(%2, kernel_size=[2, 2])
  module conv2 : Conv2d {
    %4: f32[B, 32, (H+2)//4, (W+2)//4] = conv2d(%3, conv2.weight, conv2.bias, stride=[2, 2], padding=[1, 1])
  }
  module bn2 : BatchNorm2d {
    %5: f32[B, 32, (H+2)//4, (W+2)//4] = batch_norm(%4, bn2.weight, bn2.bias, bn2.running_mean, bn2.running_var)
  }
  %6: f32[B, 32, (H+2)//4, (W+2)//4] = relu(%5)
  module pool : AdaptiveAvgPool2d {
    %7: f32[B, 32, 1, 1] = adaptive_avg_pool2d(%6, output_size=[1, 1])
  }
  %8: f32[B, 32] = flatten(%7, start_dim=1)
  module fc : Linear {
    %9: f32[B, 10] = linear(%8, fc.weight, fc.bias)
  }
  return %9
}

