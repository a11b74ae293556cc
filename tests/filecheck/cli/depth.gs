// --depth=k folds every module nested deeper than k levels into one line with its interface
// (what flows in, what flows out, how many ops it hides); without --depth nothing is folded.
// RUN: graphsynth-opt %s | filecheck %s --check-prefix=FULL
// RUN: graphsynth-opt %s --depth=2 | filecheck %s --check-prefix=FULL
// RUN: graphsynth-opt %s --depth=1 | filecheck %s --check-prefix=ONE
// RUN: graphsynth-opt %s --depth=0 | filecheck %s --check-prefix=ZERO
// RUN: not graphsynth-opt %s --depth=-1 2>&1 | filecheck %s --check-prefix=NEG
// Folded text is a read-only view: reading it back is GS110 on the first fold marker.
// RUN: graphsynth-opt %s --depth=0 | not graphsynth-opt 2>&1 | filecheck %s --check-prefix=REREAD

// FULL:      module blocks.0 : Block {
// FULL-NEXT:   module blocks.0.fc : Linear {
// FULL-NEXT:     %0: f32[B, 8] = linear(x, blocks.0.fc.weight)
// FULL-NEXT:   }
// FULL-NEXT:   %1: f32[B, 8] = relu(%0)
// FULL-NEXT: }

// ONE:       module blocks.0 : Block {
// ONE-NEXT:    module blocks.0.fc : Linear(x) -> (%0: f32[B, 8])  // 1 ops folded
// ONE-NEXT:    %1: f32[B, 8] = relu(%0)
// ONE-NEXT:  }
// ONE-NEXT:  module blocks.1 : Block {
// ONE-NEXT:    module blocks.1.fc : Linear(%1) -> (%2: f32[B, 8])  // 1 ops folded
// ONE-NEXT:    %3: f32[B, 8] = relu(%2)
// ONE-NEXT:  }
// ONE-NEXT:  %4: f32[B, 8] = add(%1, %3)

// ZERO:      param blocks.1.fc.weight: f32[8, 8]
// ZERO-NEXT: module blocks.0 : Block(x) -> (%1: f32[B, 8])  // 2 ops folded
// ZERO-NEXT: module blocks.1 : Block(%1) -> (%3: f32[B, 8])  // 2 ops folded
// ZERO-NEXT: %4: f32[B, 8] = add(%1, %3)
// ZERO-NEXT: return %4

// NEG: graphsynth-opt: error: --depth must be 0 or more, got -1

// REREAD:      <stdin>:4:26: error[GS110]: module: folded module 'blocks.0' is a read-only view (printed with depth=k): the 2 ops inside it are not in the text, so it cannot be parsed
// REREAD-NEXT:   module blocks.0 : Block(x) -> (%1: f32[B, 8])  // 2 ops folded
// REREAD-NEXT: {{^                         \^$}}
// REREAD-NEXT:   help: print without folding
// REREAD-NEXT:   note: other folded modules: line 5

graph Stack(x: f32[B, 8]) -> f32[B, 8] {
  param blocks.0.fc.weight: f32[8, 8]
  param blocks.1.fc.weight: f32[8, 8]
  module blocks.0 : Block {
    module blocks.0.fc : Linear {
      %0: f32[B, 8] = linear(x, blocks.0.fc.weight)
    }
    %1: f32[B, 8] = relu(%0)
  }
  module blocks.1 : Block {
    module blocks.1.fc : Linear {
      %2: f32[B, 8] = linear(%1, blocks.1.fc.weight)
    }
    %3: f32[B, 8] = relu(%2)
  }
  %4: f32[B, 8] = add(%1, %3)
  return %4
}
