// Seed architecture of the mnist1d task: two strided 1-d convolutions and a linear head.
graph Mnist1dCNN(x: f32[B, 40]) -> f32[B, 10] {
  param c1.conv.weight: f32[8, 1, 5]
  param c1.conv.bias: f32[8]
  param c2.conv.weight: f32[8, 8, 3]
  param c2.conv.bias: f32[8]
  param head.fc.weight: f32[10, 80]
  param head.fc.bias: f32[10]
  %0: f32[B, 1, 40] = unsqueeze(x, dim=1)
  module c1 : Block {
    module c1.conv : Conv1d {
      %1: f32[B, 8, 20] = conv1d(%0, c1.conv.weight, c1.conv.bias, stride=[2], padding=[2])
    }
    %2: f32[B, 8, 20] = relu(%1)
  }
  module c2 : Block {
    module c2.conv : Conv1d {
      %3: f32[B, 8, 10] = conv1d(%2, c2.conv.weight, c2.conv.bias, stride=[2], padding=[1])
    }
    %4: f32[B, 8, 10] = relu(%3)
  }
  module head : Head {
    %5: f32[B, 80] = flatten(%4, start_dim=1)
    module head.fc : Linear {
      %6: f32[B, 10] = linear(%5, head.fc.weight, head.fc.bias)
    }
  }
  return %6
}
