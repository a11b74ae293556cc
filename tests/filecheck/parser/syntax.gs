// RUN: graphsynth-opt --verify-diagnostics --split-input-file %s
// Syntax errors (GS1xx): each names what was expected and where.

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS101: unexpected ')'; expected '{', end of line}}
  %0: f32[B, 4] = relu(x))
  return %0
}

// -----

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS101: unexpected 'relu'; expected ',', '='}}
  %0: f32[B, 4] relu(x)
  return %0
}

// -----

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS101: unexpected '='; expected ':'}}
  %0 = relu(x)
  return %0
}

// -----

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS101: unexpected 'x64'; expected a type like f32[B, 768]}}
  %0: x64[B, 4] = relu(x)
  return %0
}

// -----

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS101: unexpected ')'; expected None, a %value, a name, a number, an integer}}
  %0: f32[B, 4] = relu(x,)
  return %0
}

// -----

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+2 {{GS101: unexpected 'return'; expected '^'}}
  %0: f32[B, 4] = relu(x) {
  return %0
}

// -----

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS103: unexpected character '@'; expected '{', end of line}}
  %0: f32[B, 4] = relu(x) @
  return %0
}

// -----

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS103: unexpected character '#'}}
  %0: f32[B, 4] = relu(x) # not a comment
  return %0
}

// -----

// Only comments in a chunk: as empty as an empty file.
// expected-error@-1 {{GS104: no graph in the input}}

// -----

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS105: malformed type 'f32[B+, 4]': dim 'B+' ends early}}
  %0: f32[B+, 4] = relu(x)
  return %0
}

// -----

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS105: malformed type 'f32[B, -3]': negative dim -3}}
  %0: f32[B, -3] = relu(x)
  return %0
}

// -----

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS105: malformed type 'f32[B,, 4]': empty dim}}
  %0: f32[B,, 4] = relu(x)
  return %0
}

// -----

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS105: malformed type 'f32[B, S//0]': division by zero}}
  %0: f32[B, S//0] = relu(x)
  return %0
}

// -----

// expected-error@+1 {{GS108: type 'f32[B, 99999999999999999999999]': integer 99999999999999999999999 is out of range (-9223372036854775808..9223372036854775807)}}
graph M(x: f32[B, 99999999999999999999999]) -> f32[B, 4] {
  return x
}

// -----

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS106: softmax: attribute 'dim' expects an integer, got "a"}}
  %0: f32[B, 4] = softmax(x, dim="a")
  return %0
}

// -----

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS106: dropout: attribute 'p' expects a number, got [1, 2]}}
  %0: f32[B, 4] = dropout(x, p=[1, 2])
  return %0
}

// -----

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS106: cast: attribute 'dtype' expects a dtype (f32, f16, bf16, f64, i64, i32, i16, i8, u8, bool, c64, c128), got "f32"}}
  %0: f32[B, 4] = cast(x, dtype="f32")
  return %0
}

// -----

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS106: reshape: attribute 'shape' expects a valid dim expression, got [B, <invalid dim>]}}
  %0: f32[B, 4] = reshape(x, shape=[B, S//0])
  return %0
}

// -----

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS108: mul: integer 123456789012345678901... is out of range}}
  %0: f32[B, 4] = mul(x, 12345678901234567890123456789)
  return %0
}

// -----

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS108: reshape: attribute 'shape': integer 99999999999999999999999 is out of range}}
  %0: f32[B, 4] = reshape(x, shape=[B, 99999999999999999999999])
  return %0
}

// -----

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS108: reshape: attribute 'shape' expects integers in [-9223372036854775808, 9223372036854775807], got [B, 18446744073709551616]}}
  %0: f32[B, 4] = reshape(x, shape=[B, 4294967296*4294967296])
  return %0
}

// -----

// The grammar is ASCII outside strings and comments: a fullwidth digit is not a digit.
// expected-error@+1 {{GS107: type 'f32[B, ４]': non-ASCII character '４' (U+FF14 FULLWIDTH DIGIT FOUR)}}
graph M(x: f32[B, ４]) -> f32[B, 4] {
  return x
}

// -----

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS107: non-ASCII character '²' (U+00B2 SUPERSCRIPT TWO)}}
  %0: f32[B, 4] = mul(x, 2²)
  return %0
}

// -----

// Products of sums expand; the expansion is bounded (graphsynth.dialects.limits.MAX_DIM_SIZE).
// expected-error@+1 {{GS307: type 'f32[(a0+b0)*(a1+b1)*(a2+b2)*(a3+b3)*(a4+b4)*(a5+b5)*(a6+b...': symbolic expression too large}}
graph M(x: f32[(a0+b0)*(a1+b1)*(a2+b2)*(a3+b3)*(a4+b4)*(a5+b5)*(a6+b6)*(a7+b7)*(a8+b8)*(a9+b9)*(a10+b10)*(a11+b11)*(a12+b12)*(a13+b13)*(a14+b14)*(a15+b15)*(a16+b16)*(a17+b17)*(a18+b18)*(a19+b19)]) -> f32[B, 4] {
  return x
}

// -----

// expected-error@+1 {{GS109: type 'f32[((((((((((((((((((((((((((((((((((B))))))))))))))))))...': parentheses nest more than 32 deep in dim}}
graph M(x: f32[((((((((((((((((((((((((((((((((((B))))))))))))))))))))))))))))))))))]) -> f32[B, 4] {
  return x
}
