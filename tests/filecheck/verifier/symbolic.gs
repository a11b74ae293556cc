// RUN: graphsynth-opt --verify-diagnostics --split-input-file %s
// RUN: not graphsynth-opt --split-input-file %s 2>/dev/null | filecheck %s
// Symbolic dims: equal when the canonical forms prove it, an error when they differ for every
// binding, and GS304 ("cannot prove") when neither can be shown -- never a silent pass.

// Proved equal: S+1 vs 1+S, S+S+2 vs 2*S+2, (2*S+2)//2 vs S+1, and the -1 of a reshape next to
// a symbolic dim: [B, S+1, 2] has 2*B*S+2*B elements, so [B, -1] is [B, 2*S+2].
// CHECK-LABEL: graph Proved(x: f32[B, S+1], y: f32[B, S+1]) -> f32[B, 2*S+2]
// CHECK-NEXT:    %0: f32[B, S+1] = add(x, y)
// CHECK-NEXT:    %1: f32[B, 2*S+2] = concat(%0, y, dim=1)
// CHECK-NEXT:    %2: f32[B, S+1, 2] = reshape(%1, shape=[B, S+1, 2])
// CHECK-NEXT:    %3: f32[B, 2*S+2] = reshape(%2, shape=[B, -1])
// CHECK-NEXT:    return %3
graph Proved(x: f32[B, S+1], y: f32[B, 1+S]) -> f32[B, S+S+2] {
  %0: f32[B, S+1] = add(x, y)
  %1: f32[B, 2*S+2] = concat(%0, y, dim=1)
  %2: f32[B, S+1, 2] = reshape(%1, shape=[B, (2*S+2)//2, 2])
  %3: f32[B, 2*S+2] = reshape(%2, shape=[B, -1])
  return %3
}

// -----

// Refuted for every binding of positive symbols: S+1 is never S.
graph Refuted(x: f32[B, S], y: f32[B, S+1]) -> f32[B, S] {
  // expected-error@+1 {{GS301: add: operand #1 (y) dim -1 must equal dim -1 of operand #0 (S) or 1 to broadcast, got S+1}}
  %0: f32[B, S] = add(x, y)
  return %0
}

// -----

// Two unrelated symbols: neither provable nor refutable.
graph TwoSymbols(x: f32[B, S], w: f32[4, T]) -> f32[B, 4] {
  // expected-error@+2 {{GS304: linear: operand #1 (w) has shape [4, T]; dim 1 must equal dim -1 of operand #0 (S), but cannot prove S == T}}
  // expected-note@+1 {{violated: S == T}}
  %0: f32[B, 4] = linear(x, w)
  return %0
}

// -----

// 2*S - T may be zero or not.
graph Mixed(x: f32[B, 2*S], y: f32[B, T]) -> f32[B, 2*S] {
  // expected-error@+1 {{GS304: add: operand #1 (y) dim -1 must equal dim -1 of operand #0 (2*S) or 1 to broadcast, but cannot prove 2*S == T}}
  %0: f32[B, 2*S] = add(x, y)
  return %0
}

// -----

// The declared result type cannot be proved equal to the inferred one.
graph DeclaredUnprovable(x: f32[B, S], y: f32[B, T]) -> f32[B, T] {
  // expected-error@+1 {{GS304: relu: result %0 must be f32[B, S], which the op produces, but is declared f32[B, T]; cannot prove S == T (dim 1)}}
  %0: f32[B, T] = relu(x)
  return y
}

// -----

// The returned value cannot be proved to have the signature's type.
graph ReturnUnprovable(x: f32[B, S], y: f32[B, T]) -> f32[B, S] {
  // expected-error@+1 {{GS304: return: operand #0 (y) must have type f32[B, S] as the graph signature declares, but cannot prove S == T}}
  return y
}

// -----

// Floor division: the canonical form proves (H-1)//2+1 == (H+1)//2.
// CHECK-LABEL: graph Floors(x: f32[N, 3, H, W]) -> f32[N, 8, (H+1)//2, (W+1)//2]
// CHECK:         conv2d(x, w, stride=[2, 2], padding=[1, 1])
graph Floors(x: f32[N, 3, H, W]) -> f32[N, 8, (H+1)//2, (W+1)//2] {
  param w: f32[8, 3, 3, 3]
  %0: f32[N, 8, (H-1)//2+1, (W-1)//2+1] = conv2d(x, w, stride=[2, 2], padding=[1, 1])
  return %0
}
