// --view-op-graph FILE draws the graph that the run prints (after -p) as graphviz source (.dot,
// .gv; SVG/PNG/PDF through graphviz's `dot`, or matplotlib without it); '-' writes the source to
// stderr.  Unfolded modules are clusters; --view-op-graph-depth (default --depth) folds modules.
// RUN: graphsynth-opt %s -p canonicalize --view-op-graph %t.dot | filecheck %s --check-prefix=IR
// RUN: filecheck %s --input-file %t.dot
// RUN: graphsynth-opt %s --view-op-graph %t.folded.gv --view-op-graph-depth 0
// RUN: filecheck %s --input-file %t.folded.gv --check-prefix=FOLD
// RUN: graphsynth-opt %s --view-op-graph - 2> %t.stderr.dot
// RUN: filecheck %s --input-file %t.stderr.dot --check-prefix=FOLD-NOT-USED
// A format no engine writes is a diagnostic before any work, and nothing is written.
// RUN: not graphsynth-opt %s --view-op-graph %t.bmp 2>&1 | filecheck %s --check-prefix=BMP
// RUN: not ls %t.bmp

// IR: graph View(x: f32[B, 8]) -> f32[B, 8]
// IR-NOT: mul(

// CHECK:      digraph "ops" {
// CHECK:        n0 [fillcolor="#dbe8f6" label="x\nf32[B, 8]" shape="ellipse"]
// CHECK-NEXT:   [[TANH:n[0-9]+]] [fillcolor="#f2f2f2" label="%1 = tanh\nf32[B, 8]" shape="box"]
// CHECK-NEXT:   [[RET:n[0-9]+]] [fillcolor="#dbe8f6" label="return\nf32[B, 8]" shape="ellipse"]
// CHECK-NEXT:   subgraph cluster_0 {
// CHECK-NEXT:     graph [color="#888888" fontsize="10" label="enc" style="rounded"]
// CHECK-NEXT:     subgraph cluster_1 {
// CHECK-NEXT:       graph [color="#888888" fontsize="10" label="enc.fc" style="rounded"]
// CHECK-NEXT:       [[LIN:n[0-9]+]] [fillcolor="#f2f2f2" label="%0 = linear\nf32[B, 8]" shape="box"]
// CHECK-NOT:    label="%2 = mul
// CHECK:        n0 -> [[LIN]]
// CHECK-NEXT:   [[LIN]] -> [[TANH]]
// CHECK-NEXT:   [[TANH]] -> [[RET]]
// CHECK-NEXT: }

// FOLD:      n1 [fillcolor="#dcefdc" label="enc\nEncoder" shape="box3d"]
// FOLD-NOT:  cluster
// FOLD:      n0 -> n1

// FOLD-NOT-USED: label="%2 = mul\nf32[B, 8]"

// BMP: error[GS807]: cannot write '.bmp' pictures

graph View(x: f32[B, 8]) -> f32[B, 8] {
  param enc.fc.weight: f32[8, 8]
  module enc : Encoder {
    module enc.fc : Linear {
      %0: f32[B, 8] = linear(x, enc.fc.weight)
    }
  }
  %1: f32[B, 8] = tanh(%0)
  %2: f32[B, 8] = mul(%1, 1)
  return %2
}
