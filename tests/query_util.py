"""IR shared by the query tests."""

# A block with a residual branch: x -> linear -> relu -> add(x, .) -> tanh.
RES = """
graph R(x: f32[B, 8]) -> f32[B, 8] {
  param blk.fc.weight: f32[8, 8]
  module blk : Block {
    module blk.fc : Linear {
      %0: f32[B, 8] = linear(x, blk.fc.weight)
    }
    %1: f32[B, 8] = relu(%0)
    %2: f32[B, 8] = add(x, %1)
  }
  %3: f32[B, 8] = tanh(%2)
  return %3
}
"""
