// RUN: graphsynth-opt %s --split-input-file -p 'outline{module=block}' | filecheck %s
// RUN: graphsynth-opt %s --split-input-file -p 'outline{module=block},inline' > %t.roundtrip.gs
// RUN: graphsynth-opt %s --split-input-file > %t.reference.gs
// RUN: diff %t.reference.gs %t.roundtrip.gs
// RUN: graphsynth-opt %s --split-input-file -p 'outline' | filecheck %s --check-prefix=ALL
// RUN: not graphsynth-opt %s --split-input-file -p 'outline{module=blok}' 2>&1 | filecheck %s --check-prefix=UNKNOWN
// outline makes a module a graph of its own, called where the module was; inline undoes it.

// The callee takes what the module reads (the parameters too: they stay in the caller, so the
// state_dict keys do not change; a parameter under the module's path gets its relative key as
// input name) and returns what is read outside it; ops keep their names and scopes.
// CHECK-LABEL: graph Net(x: f32[B, 8]) -> (f32[B, 8], f32[B, 8]) {
// CHECK-NEXT:    param block.fc.weight: f32[8, 8]
// CHECK-NEXT:    param shared: f32[8]
// CHECK-NEXT:    %0: f32[B, 8] = relu(x)
// CHECK-NEXT:    module block : Block {
// CHECK-NEXT:      %2: f32[B, 8], %3: f32[B, 8] = call(%0, block.fc.weight, shared, callee="block")
// CHECK-NEXT:    }
// CHECK-NEXT:    %4: f32[B, 8] = mul(%3, 2.0)
// CHECK-NEXT:    return %2, %4
// CHECK-NEXT:  }
// CHECK-EMPTY:
// CHECK-NEXT:  graph block(in_0: f32[B, 8], fc.weight: f32[8, 8], shared: f32[8]) -> (f32[B, 8], f32[B, 8]) {
// CHECK-NEXT:    module block : Block {
// CHECK-NEXT:      module block.fc : Linear {
// CHECK-NEXT:        %1: f32[B, 8] = linear(in_0, fc.weight, shared)
// CHECK-NEXT:      }
// CHECK-NEXT:      %2: f32[B, 8] = tanh(%1)
// CHECK-NEXT:      %3: f32[B, 8] = add(%2, in_0)
// CHECK-NEXT:    }
// CHECK-NEXT:    return %2, %3
// CHECK-NEXT:  }
// ALL-LABEL: graph Net(
// ALL: call(%0, block.fc.weight, shared, callee="block")
// ALL-LABEL: graph block(
// UNKNOWN: error[GS405]: outline: graph 'Net' has no module 'blok'
// UNKNOWN: help: did you mean block?
graph Net(x: f32[B, 8]) -> (f32[B, 8], f32[B, 8]) {
  param block.fc.weight: f32[8, 8]
  param shared: f32[8]
  %0: f32[B, 8] = relu(x)
  module block : Block {
    module block.fc : Linear {
      %1: f32[B, 8] = linear(%0, block.fc.weight, shared)
    }
    %2: f32[B, 8] = tanh(%1)
    %3: f32[B, 8] = add(%2, %0)
  }
  %4: f32[B, 8] = mul(%3, 2.0)
  return %2, %4
}

// -----

// A module whose shapes mention a symbol that its inputs do not carry (S) gets a graph input that
// carries it as one more input, so that the callee's types are bound.
// CHECK-LABEL: graph Sym(x: f32[B, S], n: i64[B]) -> f32[B, S] {
// CHECK:           %1: f32[B, S] = call(n, x, callee="block")
// CHECK-LABEL: graph block(n: i64[B], x: f32[B, S]) -> f32[B, S] {
// CHECK-NEXT:    module block : Pos {
// CHECK-NEXT:      %0: i64[S] = arange(end=S)
// CHECK-NEXT:      %u: i64[1, S] = unsqueeze(%0, dim=0)
// CHECK-NEXT:      %v: i64[B, 1] = unsqueeze(n, dim=1)
// CHECK-NEXT:      %w: i64[B, S] = add(%u, %v)
// CHECK-NEXT:      %1: f32[B, S] = cast(%w, dtype=f32)
// CHECK-NEXT:    }
graph Sym(x: f32[B, S], n: i64[B]) -> f32[B, S] {
  module block : Pos {
    %0: i64[S] = arange(end=S)
    %u: i64[1, S] = unsqueeze(%0, dim=0)
    %v: i64[B, 1] = unsqueeze(n, dim=1)
    %w: i64[B, S] = add(%u, %v)
    %1: f32[B, S] = cast(%w, dtype=f32)
  }
  %2: f32[B, S] = add(%1, x)
  return %2
}
