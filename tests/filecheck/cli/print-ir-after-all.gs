// --print-ir-after-all dumps the IR after every pass to stderr, as mlir-opt does; the final IR
// goes to stdout.  --print-ir-diff prints a unified diff per pass instead.
// RUN: graphsynth-opt %s -p canonicalize,dce --print-ir-after-all 2>&1 >/dev/null | filecheck %s --check-prefix=DUMP
// RUN: graphsynth-opt %s -p canonicalize,dce --print-ir-after-all 2>/dev/null | filecheck %s --check-prefix=OUT
// RUN: graphsynth-opt %s -p canonicalize --print-ir-after-all --print-ir-diff 2>&1 >/dev/null | filecheck %s --check-prefix=DIFF

// DUMP:      // -----// IR Dump After canonicalize //----- //
// DUMP-NEXT: graph Dump(x: f32[B, 4]) -> f32[B, 4] {
// DUMP-NEXT:   %0: f32[B, 4] = relu(x)
// DUMP-NEXT:   %2: f32[B, 4] = tanh(%0)
// DUMP-NEXT:   return %2
// DUMP-NEXT: }
// DUMP-NEXT: // -----// IR Dump After dce //----- //
// DUMP-NEXT: graph Dump(x: f32[B, 4]) -> f32[B, 4] {

// OUT-NOT:   IR Dump
// OUT:       graph Dump(x: f32[B, 4]) -> f32[B, 4] {
// OUT-NEXT:    %0: f32[B, 4] = relu(x)
// OUT-NEXT:    %2: f32[B, 4] = tanh(%0)

// DIFF:      // -----// IR Diff After canonicalize //----- //
// DIFF-NEXT: --- before canonicalize
// DIFF-NEXT: +++ after canonicalize
// DIFF:      -  %1: f32[B, 4] = dropout(%0, p=0.1)
// DIFF-NEXT: -  %2: f32[B, 4] = tanh(%1)
// DIFF-NEXT: +  %2: f32[B, 4] = tanh(%0)

graph Dump(x: f32[B, 4]) -> f32[B, 4] {
  %0: f32[B, 4] = relu(x)
  %1: f32[B, 4] = dropout(%0, p=0.1)
  %2: f32[B, 4] = tanh(%1)
  return %2
}
