// MLIR generic syntax is read by xDSL's parser (chosen by the .mlir extension) and printed as
// gs text; --emit=mlir prints it back as the same generic form.
// RUN: graphsynth-opt %s | filecheck %s
// RUN: graphsynth-opt %s --emit=mlir | graphsynth-opt --input=mlir | filecheck %s
// RUN: graphsynth-opt %s -p canonicalize | filecheck %s --check-prefix=CANON

// CHECK-LABEL: graph Small(x: f32[B, 4]) -> f32[B, 4] {
// CHECK-NEXT:    param w: f32[4, 4]
// CHECK-NEXT:    %0: f32[B, 4] = linear(x, w)
// CHECK-NEXT:    %1: f32[B, 4] = relu(%0)
// CHECK-NEXT:    %2: f32[B, 4] = mul(%1, 1)
// CHECK-NEXT:    return %2
// CHECK-NEXT:  }

// CANON:      %1: f32[B, 4] = relu(%0)
// CANON-NEXT: return %1

"builtin.module"() ({
  "gs.graph"() <{sym_name = "Small", arg_names = ["x"], output_types = [!gs.tensor<f32, ["B", 4]>], modules = []}> ({
  ^bb0(%0: !gs.tensor<f32, ["B", 4]>):
    %1 = "gs.param"() <{name = "w", kind = "param"}> : () -> !gs.tensor<f32, [4, 4]>
    %2 = "gs.linear"(%0, %1) <{names = ["0"]}> : (!gs.tensor<f32, ["B", 4]>, !gs.tensor<f32, [4, 4]>) -> !gs.tensor<f32, ["B", 4]>
    %3 = "gs.relu"(%2) <{names = ["1"]}> : (!gs.tensor<f32, ["B", 4]>) -> !gs.tensor<f32, ["B", 4]>
    %4 = "gs.mul"(%3) <{rhs = #builtin.int<1>, names = ["2"]}> : (!gs.tensor<f32, ["B", 4]>) -> !gs.tensor<f32, ["B", 4]>
    "gs.return"(%4) : (!gs.tensor<f32, ["B", 4]>) -> ()
  }) : () -> ()
}) : () -> ()
