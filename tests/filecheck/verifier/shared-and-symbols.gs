// RUN: graphsynth-opt --verify-diagnostics --split-input-file %s
// Shared parameters (GS310-GS312) and symbol declarations (GS313, GS314), and proofs that need
// a declared range or step.

graph Missing(ids: i64[B]) -> f32[B, 4] {
  param wte: f32[10, 4]
  // expected-error@+1 {{GS310: param: parameter 'head' shares 'wt', which is not a parameter of this graph}}
  param head: f32[10, 4] = wt
  %0: f32[B, 4] = embedding(wte, ids)
  return %0
}

// -----

graph OtherType(ids: i64[B]) -> f32[B, 4] {
  param wte: f32[10, 4]
  // expected-error@+1 {{GS311: param: parameter 'head' shares 'wte', so it must have its type f32[10, 4], got f32[4, 10]}}
  param head: f32[4, 10] = wte
  %0: f32[B, 4] = embedding(wte, ids)
  return %0
}

// -----

graph Chain(ids: i64[B]) -> f32[B, 4] {
  param a: f32[10, 4]
  param b: f32[10, 4] = a
  // expected-error@+1 {{GS312: param: parameter 'c' shares a parameter that is itself shared (c -> b -> a)}}
  param c: f32[10, 4] = b
  %0: f32[B, 4] = embedding(a, ids)
  return %0
}

// -----

graph Cycle(ids: i64[B]) -> f32[B, 4] {
  // expected-error@+1 {{GS312: param: parameter 'a' shares parameters that share each other in a cycle (a -> b -> a)}}
  param a: f32[10, 4] = b
  // expected-error@+1 {{GS312: param: parameter 'b' shares parameters that share each other in a cycle (b -> a -> b)}}
  param b: f32[10, 4] = a
  %0: f32[B, 4] = embedding(a, ids)
  return %0
}

// -----

graph EmptyRange(x: f32[B, S]) -> f32[B, S] {
  // expected-error@+1 {{GS313: symbol: 'S': [10, 12] step 8 allows no value: no multiple of 8 lies in [10, 12]}}
  symbol S: [10, 12] step 8
  return x
}

// -----

graph NotPositive(x: f32[B, S]) -> f32[B, S] {
  // expected-error@+1 {{GS313: symbol: 'S': [0, 12] allows no value: min 0 is below 1 (symbols are positive integers)}}
  symbol S: [0, 12]
  return x
}

// -----

// expected-error@+1 {{GS314: graph: symbol 'T' is declared, but no graph input has it in its type (symbols: B, S)}}
graph Unused(x: f32[B, S]) -> f32[B, S] {
  symbol T: [2, 8]
  return x
}

// -----

graph Twice(x: f32[B, S]) -> f32[B, S] {
  symbol S: [2, 8]
  // expected-error@+1 {{GS202: symbol: 'S' is declared twice (first at line}}
  symbol S: [2, 9]
  return x
}

// -----

graph NoRange(x: f32[S]) -> i64[S-1] {
  // expected-error@+1 {{GS304: arange: arange length S-1 is not known to be non-negative}}
  %0: i64[S-1] = arange(end=S-1)
  return %0
}

// -----

graph WithRange(x: f32[S]) -> i64[S-1] {
  symbol S: [2, inf]
  %0: i64[S-1] = arange(end=S-1)
  return %0
}

// -----

graph NoStep(ids: i64[B, T]) -> i64[B, T//8, 8] {
  // expected-error@+1 {{GS304: reshape}}
  %0: i64[B, T//8, 8] = reshape(ids, shape=[B, T//8, 8])
  return %0
}

// -----

graph WithStep(ids: i64[B, T]) -> i64[B, T//8, 8] {
  symbol T: [8, 4096] step 8
  %0: i64[B, T//8, 8] = reshape(ids, shape=[B, T//8, 8])
  return %0
}
