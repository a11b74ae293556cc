// RUN: graphsynth-opt --verify-diagnostics --split-input-file %s
// Rejections of the sorting, scan, flip/roll and 1-d pooling ops, each at the op's line.

graph TopK(x: f32[B, 4]) -> f32[B, 5] {
  // expected-error@+1 {{GS330: topk: operand #0 (x) has size 4 along dim -1; k must be at most 4, got 5}}
  %v: f32[B, 5], %i: i64[B, 5] = topk(x, k=5)
  return %v
}

// -----

graph TopKSymbolic(x: f32[B, S]) -> f32[B+2, S] {
  // expected-error@+1 {{GS330: topk: operand #0 (x) has size B along dim 0; k must be at most B, got B+2}}
  %v: f32[B+2, S], %i: i64[B+2, S] = topk(x, k=B+2, dim=0)
  return %v
}

// -----

graph SortDim(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS306: sort: operand #0 (x) dim must be in [-2, 1] for rank 2, got 2}}
  %v: f32[B, 4], %i: i64[B, 4] = sort(x, dim=2)
  return %v
}

// -----

graph Flip(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS306: flip: dims names dim 1 twice}}
  %0: f32[B, 4] = flip(x, dims=[1, -1])
  return %0
}

// -----

graph Roll(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS306: roll: roll takes one shift per dim: 2 shifts for 1 dims}}
  %0: f32[B, 4] = roll(x, shifts=[1, 2], dims=[1])
  return %0
}

// -----

graph Pool(x: f32[B, 3, S]) -> f32[B, 3, S] {
  // expected-error@+1 {{GS306: max_pool1d: padding 2 must be at most half the kernel size 2}}
  %0: f32[B, 3, S] = max_pool1d(x, kernel_size=[2], stride=[1], padding=[2])
  return %0
}

// -----

graph PoolTooShort(x: f32[B, 3, 4]) -> f32[B, 3, 1] {
  // expected-error@+1 {{GS301: max_pool1d: operand #0 (x) has length 4; a window of 5 (padding 0) does not fit it}}
  %0: f32[B, 3, 1] = max_pool1d(x, kernel_size=[5])
  return %0
}
