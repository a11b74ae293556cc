// RUN: graphsynth-opt --verify-diagnostics --split-input-file %s
// Structural errors (GS2xx): each chunk holds one malformed graph and the error it must get.

graph Undefined(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS201: add: use of undefined value '%nowhere'}}
  %0: f32[B, 4] = add(x, %nowhere)
  return %0
}

// -----

graph UndefinedName(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS201: linear: use of undefined value 'fc.weight'}}
  %0: f32[B, 4] = linear(x, fc.weight)
  return %0
}

// -----

graph DuplicateValue(x: f32[B, 4]) -> f32[B, 4] {
  %0: f32[B, 4] = relu(x)
  // expected-error@+1 {{GS202: tanh: '%0' is defined twice (first at line 21)}}
  %0: f32[B, 4] = tanh(x)
  return %0
}

// -----

graph DuplicateInput(x: f32[B, 4], x: f32[B, 4]) -> f32[B, 4] { // expected-error {{GS202: graph input 'x' is declared twice}}
  return x
}

// -----

graph Twice(x: f32[B, 4]) -> f32[B, 4] {
  return x
}
// expected-error@+1 {{GS202: graph 'Twice' is defined twice}}
graph Twice(x: f32[B, 4]) -> f32[B, 4] {
  return x
}

// -----

graph ParamShadowsInput(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS202: param: 'x' is already defined}}
  param x: f32[4]
  return x
}

// -----

graph ModuleClass(x: f32[B, 4]) -> f32[B, 4] {
  module blk : Block {
    %0: f32[B, 4] = relu(x)
  }
  // expected-error@+1 {{GS202: module 'blk' is declared as Block (in '<top>') and again as Other}}
  module blk : Other {
    %1: f32[B, 4] = relu(%0)
  }
  return %1
}

// -----

graph UseBeforeDef(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS203: relu: uses %1 before its definition (line 69)}}
  %0: f32[B, 4] = relu(%1)
  %1: f32[B, 4] = tanh(x)
  return %0
}

// -----

graph Cycle(x: f32[B, 4]) -> f32[B, 4] {
  %0: f32[B, 4] = add(x, %1)
  // expected-error@+1 {{GS204: relu: values depend on themselves: %1 -> %0 -> %1}}
  %1: f32[B, 4] = relu(%0)
  return %1
}

// -----

graph SelfLoop(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS204: add: values depend on themselves: %0 -> %0}}
  %0: f32[B, 4] = add(x, %0)
  return %0
}

// -----

graph ReturnCount(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS205: return: must return 1 value(s) as the graph signature declares, got 2}}
  return x, x
}

// -----

graph ReturnType(x: f32[B, 4]) -> f32[B, 8] {
  // expected-error@+1 {{GS205: return: operand #0 (x) must have type f32[B, 8] as the graph signature declares, got f32[B, 4]}}
  return x
}

// -----

graph ReturnDtype(x: f32[B, 4]) -> i64[B, 4] {
  // expected-error@+1 {{GS205: return: operand #0 (x) must have type i64[B, 4]}}
  return x
}

// -----

graph ParamTwice(x: f32[B, 4]) -> f32[B, 4] {
  param w: f32[4, 4]
  // expected-error@+1 {{GS206: param: parameter 'w' is declared twice}}
  param w: f32[4, 4]
  return x
}

// -----

graph ParamConflict(x: f32[B, 4]) -> f32[B, 4] {
  param w: f32[4, 4]
  // expected-error@+1 {{GS206: param: parameter 'w' is declared twice with another type (f32[4, 4] vs f32[4, 8])}}
  param w: f32[4, 8]
  return x
}

// -----

graph UnknownOp(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS207: rleu: unknown op}}
  %0: f32[B, 4] = rleu(x)
  return %0
}

// -----

graph TooMany(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS208: relu: expects relu(input) but got 2 operands}}
  %0: f32[B, 4] = relu(x, x)
  return %0
}

// -----

graph TooFew(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS208: add: expects add(lhs|num, rhs|num) but got 1 operand(s); 'rhs' is missing}}
  %0: f32[B, 4] = add(x)
  return %0
}

// -----

graph TooManyResults(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS208: relu: declares 2 result(s) but produces 1}}
  %0: f32[B, 4], %1: f32[B, 4] = relu(x)
  return %0
}

// -----

graph UnknownAttr(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS209: softmax: unknown attribute 'axis' (valid: dim, dtype)}}
  %0: f32[B, 4] = softmax(x, axis=1)
  return %0
}

// -----

graph MissingAttr(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS209: softmax: attribute 'dim' (int) is required}}
  %0: f32[B, 4] = softmax(x)
  return %0
}

// -----

graph AttrTwice(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS209: softmax: attribute 'dim' given twice}}
  %0: f32[B, 4] = softmax(x, dim=1, dim=1)
  return %0
}

// -----

graph NumberForTensor(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS209: relu: argument #0 (input) must be a value, got number 3}}
  %0: f32[B, 4] = relu(3)
  return %0
}

// -----

graph BoolForTensor(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS209: linear: argument #1 (weight) must be a value, got literal true}}
  %0: f32[B, 4] = linear(x, true)
  return %0
}

// -----

graph UnknownSymbol(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS210: relu: result has type f32[Q, 4], which uses the unknown symbol 'Q'}}
  %0: f32[Q, 4] = relu(x)
  return x
}

// -----

graph UnknownSymbolInParam(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS210: param: parameter 'w' has type f32[H, 4], which uses the unknown symbol 'H'}}
  param w: f32[H, 4]
  return x
}

// -----

// expected-error@+1 {{GS211: graph 'NoReturn' has no 'return'}}
graph NoReturn(x: f32[B, 4]) -> f32[B, 4] {
  %0: f32[B, 4] = relu(x)
}

// -----

graph YieldInGraph(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS211: 'yield' cannot end a graph; use 'return'}}
  yield x
}

// -----

graph RegionOnPrimitive(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS211: relu: op takes no region}}
  %0: f32[B, 4] = relu(x) {
    ^(%a: f32[B, 4])
    yield %a
  }
  return %0
}

// -----

graph NotElementwiseInFused(x: f32[B, 4]) -> f32[B, 4] {
  %0: f32[B, 4] = fused(x) {
    ^(%a: f32[B, 4])
    // expected-error@+1 {{GS211: softmax: only elementwise ops may stand in a fused region}}
    %s: f32[B, 4] = softmax(%a, dim=1)
    yield %s
  }
  return %0
}

// -----

graph ReturnInFused(x: f32[B, 4]) -> f32[B, 4] {
  %0: f32[B, 4] = fused(x) {
    ^(%a: f32[B, 4])
    %s: f32[B, 4] = relu(%a)
    // expected-error@+1 {{GS211: 'return' cannot end a fused region; use 'yield'}}
    return %s
  }
  return %0
}

// -----

graph FusedSeesOnlyItsArgs(x: f32[B, 4]) -> f32[B, 4] {
  %0: f32[B, 4] = fused(x) {
    ^(%a: f32[B, 4])
    // expected-error@+1 {{GS201: add: use of undefined value 'x' (a fused region sees only its block arguments)}}
    %s: f32[B, 4] = add(%a, x)
    yield %s
  }
  return %0
}

// -----

// Enumerated attributes: the values are declared with the op (see --list-ops).
graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS209: gelu: attribute 'approximate' must be one of 'none', 'tanh', got 'exact'}}
  %0: f32[B, 4] = gelu(x, approximate="exact")
  return %0
}

// -----

graph M(x: f32[B, 4]) -> f32[B, 4] {
  // expected-error@+1 {{GS209: div: attribute 'rounding_mode' must be one of 'trunc', 'floor' or None, got 'round'}}
  %0: f32[B, 4] = div(x, 2.0, rounding_mode="round")
  return %0
}
