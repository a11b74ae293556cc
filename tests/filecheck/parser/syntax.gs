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

// expected-error@+1 {{GS105: malformed type 'f32[B, 99999999999999999999999]': dim 99999999999999999999999 does not fit in 64 bits}}
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
  // expected-error@+1 {{GS106: cast: attribute 'dtype' expects a dtype (f32, f16, bf16, f64, i64, i32, i16, i8, u8, bool), got "f32"}}
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
  // expected-error@+1 {{GS106: integer literal 123456789012345678901... does not fit in 64 bits}}
  %0: f32[B, 4] = mul(x, 12345678901234567890123456789)
  return %0
}

// -----

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS106: reshape: attribute 'shape' expects integers that fit in 64 bits}}
  %0: f32[B, 4] = reshape(x, shape=[B, 99999999999999999999999])
  return %0
}
