// RUN: graphsynth-opt --verify-diagnostics --split-input-file %s
// Misuses of unbacked symbols, each at its line: bound by an input, used before its defining op,
// defined twice, a backed symbol or an expression where the data decides the size.

// expected-error@+1 {{GS331: graph: symbol 'u0' is declared unbacked, but a graph input has it in its type}}
graph Input(x: f32[u0, 4]) -> i64[u0, 2] {
  symbol u0: [0, inf] unbacked
  %nz: i64[u0, 2] = nonzero(x, size=u0)
  return %nz
}

// -----

graph Early(x: f32[B, 4]) -> f32[u0] {
  symbol u0: [0, inf] unbacked
  // expected-error@+1 {{GS332: full: uses the unbacked symbol 'u0' (in its result type) before the op that defines it (masked_select %s (line 19))}}
  %f: f32[u0] = full(shape=[u0], value=1.0, dtype=f32)
  %m: bool[B, 4] = gt(x, 0)
  %s: f32[u0] = masked_select(x, %m, size=u0)
  %y: f32[u0] = add(%s, %f)
  return %y
}

// -----

graph Twice(x: f32[B, 4]) -> i64[u0, 2] {
  symbol u0: [0, inf] unbacked
  %a: i64[u0, 2] = nonzero(x, size=u0)
  // expected-error@+1 {{GS333: nonzero: defines the unbacked symbol 'u0', which another op already defines (line 28)}}
  %b: i64[u0, 2] = nonzero(x, size=u0)
  return %b
}

// -----

graph Backed(x: f32[B, 4]) -> i64[B, 2] {
  // expected-error@+1 {{GS334: nonzero: size=B must be an unbacked symbol, but 'B' is bound by a graph input}}
  %a: i64[B, 2] = nonzero(x, size=B)
  return %a
}

// -----

graph Expression(x: f32[B, 4]) -> i64[u0+1, 2] {
  symbol u0: [0, inf] unbacked
  // expected-error@+1 {{GS334: nonzero: size=u0+1 must be one unbacked symbol}}
  %a: i64[u0+1, 2] = nonzero(x, size=u0+1)
  return %a
}
