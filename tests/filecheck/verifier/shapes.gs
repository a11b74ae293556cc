// RUN: graphsynth-opt --verify-diagnostics --split-input-file %s
// Shape and dtype errors (GS3xx).  Messages name the op, the operand, the expected and the
// actual value, in that order (DESIGN.md section 3).

graph MLP(x: f32[B, 784]) -> f32[B, 256] {
  param fc1.weight: f32[256, 700]
  param fc1.bias: f32[256]
  // expected-error@+2 {{GS301: linear: operand #1 (fc1.weight) has shape [256, 700]; dim 1 must equal dim -1 of operand #0 (784)}}
  // expected-note@+1 {{violated: 784 == 700}}
  %0: f32[B, 256] = linear(x, fc1.weight, fc1.bias)
  return %0
}

// -----

graph Bias(x: f32[B, 8]) -> f32[B, 4] {
  param w: f32[4, 8]
  param b: f32[5]
  // expected-error@+1 {{GS301: linear: operand #2 (b) has shape [5]; dim 0 must equal dim 0 of operand #1 (4)}}
  %0: f32[B, 4] = linear(x, w, b)
  return %0
}

// -----

graph Matmul(a: f32[B, 3, 4], b: f32[5, 6]) -> f32[B, 3, 6] {
  // expected-error@+1 {{GS301: matmul: operand #1 (b) has shape [5, 6]; dim -2 must equal dim -1 of operand #0 (4)}}
  %0: f32[B, 3, 6] = matmul(a, b)
  return %0
}

// -----

graph Broadcast(x: f32[B, S, 32], y: f32[B, S, 64]) -> f32[B, S, 64] {
  // expected-error@+1 {{GS301: add: operand #1 (y) dim -1 must equal dim -1 of operand #0 (32) or 1 to broadcast, got 64}}
  %r: f32[B, S, 64] = add(x, y)
  return %r
}

// -----

graph Conv(x: f32[N, 3, H, W]) -> f32[N, 8, H, W] {
  param w: f32[8, 4, 3, 3]
  // expected-error@+1 {{GS301: conv2d: operand #1 (w) has shape [8, 4, 3, 3]; dim 1 times groups (1) must equal dim -3 of operand #0 (3), got 4}}
  %0: f32[N, 8, H, W] = conv2d(x, w, padding=[1, 1])
  return %0
}

// -----

graph Concat(a: f32[B, 4], b: f32[B, 5]) -> f32[2*B, 4] {
  // expected-error@+1 {{GS301: concat: operand #1 (b) has shape [B, 5]; dim 1 must equal 4}}
  %0: f32[2*B, 4] = concat(a, b, dim=0)
  return %0
}

// -----

graph RankOperand(x: f32[B, 4]) -> f32[B, 4] {
  param w: f32[4, 4, 4]
  // expected-error@+1 {{GS302: linear: operand #1 (w) must have rank 2, got rank 3 (f32[4, 4, 4])}}
  %0: f32[B, 4] = linear(x, w)
  return %0
}

// -----

graph RankResult(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS302: relu: result %0 must have rank 2 (f32[B, 4], which the op produces), but is declared f32[B, 4, 1] (rank 3)}}
  %0: f32[B, 4, 1] = relu(x)
  return x
}

// -----

graph DtypeOperand(x: f32[B, 4]) -> f32[B, 4] {
  param w: f16[4, 4]
  // expected-error@+1 {{GS303: linear: operand #1 (w) must have dtype f32 (the dtype of operand #0), got f16}}
  %0: f32[B, 4] = linear(x, w)
  return %0
}

// -----

graph DtypeResult(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS303: relu: result %0 must have dtype f32, which the op produces, but is declared i64[B, 4]}}
  %0: i64[B, 4] = relu(x)
  return x
}

// -----

graph WhereCondition(c: f32[B, 4], x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS303: where: operand #0 (c) condition has dtype f32, expected bool}}
  %0: f32[B, 4] = where(c, x, 0.0)
  return %0
}

// -----

graph Embedding(ids: f32[B, S]) -> f32[B, S, 8] {
  param wte: f32[100, 8]
  // expected-error@+1 {{GS303: embedding: operand #1 (ids) indices have dtype f32, expected an integer dtype}}
  %0: f32[B, S, 8] = embedding(wte, ids)
  return %0
}

// -----

graph Unprovable(x: f32[B, 4], y: f32[S, 4]) -> f32[B, 4] {
  // expected-error@+2 {{GS304: add: operand #1 (y) dim -2 must equal dim -2 of operand #0 (B) or 1 to broadcast, but cannot prove B == S}}
  // expected-note@+1 {{violated: B == S}}
  %0: f32[B, 4] = add(x, y)
  return %0
}

// -----

graph ResultMismatch(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+2 {{GS305: relu: result %0 must be f32[B, 4], which the op produces, but is declared f32[B, 8] (dim 1)}}
  // expected-note@+1 {{declare it as f32[B, 4]}}
  %0: f32[B, 8] = relu(x)
  return x
}

// -----

graph SymbolicResult(x: f32[B, S]) -> f32[B, S] {
  // expected-error@+1 {{GS305: concat: result %0 must be f32[B, 2*S], which the op produces, but is declared f32[B, S] (dim 1)}}
  %0: f32[B, S] = concat(x, x, dim=1)
  return x
}

// -----

graph DimOutOfRange(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS306: softmax: operand #0 (x) dim must be in [-2, 1] for rank 2, got 2}}
  %0: f32[B, 4] = softmax(x, dim=2)
  return %0
}

// -----

graph ReshapeCount(x: f32[B, 6]) -> f32[B, 4] {
  // expected-error@+1 {{GS306: reshape: operand #0 (x) has shape [B, 6] (6*B elements); cannot reshape to [B, 4] (4*B elements)}}
  %0: f32[B, 4] = reshape(x, shape=[B, 4])
  return %0
}

// -----

graph Permutation(x: f32[B, 4, 5]) -> f32[B, 5, 4] {
  // expected-error@+1 {{GS306: permute: operand #0 (x) dims=[0, 2, 2] is not a permutation of the 3 dims of f32[B, 4, 5]}}
  %0: f32[B, 5, 4] = permute(x, dims=[0, 2, 2])
  return %0
}

// -----

graph KernelTooBig(x: f32[N, 3, 4, 4]) -> f32[N, 8, 2, 2] {
  param w: f32[8, 3, 5, 5]
  // expected-error@+1 {{GS306: conv2d: operand #0 (x) output height would be 0; the kernel does not fit the input}}
  %0: f32[N, 8, 2, 2] = conv2d(x, w)
  return %0
}
