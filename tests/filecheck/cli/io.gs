// Input from a file, from stdin (no argument or '-'), output to stdout or -o FILE.
// RUN: graphsynth-opt %s | filecheck %s
// RUN: graphsynth-opt < %s | filecheck %s
// RUN: graphsynth-opt - < %s | filecheck %s
// RUN: graphsynth-opt %s -o %t.out.gs
// RUN: filecheck %s --input-file %t.out.gs
// RUN: graphsynth-opt %t.out.gs -o %t.again.gs
// RUN: diff %t.out.gs %t.again.gs
// Diagnostics name the file, or <stdin>.
// RUN: not graphsynth-opt --input-format=gs < %S/Inputs/bad-dim.gs 2>&1 | filecheck %s --check-prefix=STDIN
// RUN: not graphsynth-opt %S/Inputs/bad-dim.gs 2>&1 | filecheck %s --check-prefix=FILE
// A failing input writes nothing to -o.
// RUN: not graphsynth-opt %S/Inputs/bad-dim.gs -o %t.none.gs
// RUN: not ls %t.none.gs

// CHECK-LABEL: graph Io(x: f32[B, 4]) -> f32[B, 4] {
// CHECK-NEXT:    %0: f32[B, 4] = tanh(x)
// CHECK-NEXT:    return %0
// CHECK-NEXT:  }
// CHECK-NOT:   graph

// STDIN: <stdin>:3:3: error[GS305]: relu: result %0 must be f32[B, 4]
// FILE: {{.*}}Inputs{{/|\\}}bad-dim.gs:3:3: error[GS305]: relu: result %0 must be f32[B, 4]

graph Io(x: f32[B, 4]) -> f32[B, 4] {
  %0: f32[B, 4] = tanh(x)
  return %0
}
