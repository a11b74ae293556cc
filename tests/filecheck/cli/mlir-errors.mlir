// Errors in MLIR input: xDSL's syntax errors become GS101 at xDSL's position, ops that do not
// match their definition GS211, and the gs verifier's diagnostics point at the op's line.
// RUN: graphsynth-opt --verify-diagnostics --split-input-file %s

"builtin.module"() ({
  "gs.graph"() <{sym_name = "Shape", arg_names = ["x"], output_types = [!gs.tensor<f32, ["B", 4]>], modules = []}> ({
  ^bb0(%0: !gs.tensor<f32, ["B", 4]>):
    %1 = "gs.param"() <{name = "w", kind = "param"}> : () -> !gs.tensor<f32, [4, 5]>
    // expected-error@+1 {{GS301: linear: operand #1 (w) has shape [4, 5]; dim 1 must equal dim -1 of operand #0 (4)}}
    %2 = "gs.linear"(%0, %1) <{names = ["0"]}> : (!gs.tensor<f32, ["B", 4]>, !gs.tensor<f32, [4, 5]>) -> !gs.tensor<f32, ["B", 4]>
    "gs.return"(%2) : (!gs.tensor<f32, ["B", 4]>) -> ()
  }) : () -> ()
}) : () -> ()

// -----

"builtin.module"() ({
  "gs.graph"() <{sym_name = "Unknown", arg_names = ["x"], output_types = [!gs.tensor<f32, ["B", 4]>], modules = []}> ({
  ^bb0(%0: !gs.tensor<f32, ["B", 4]>):
    // expected-error@+1 {{GS101: MLIR syntax error: Operation gs.rellu is not registered}}
    %1 = "gs.rellu"(%0) : (!gs.tensor<f32, ["B", 4]>) -> !gs.tensor<f32, ["B", 4]>
    "gs.return"(%1) : (!gs.tensor<f32, ["B", 4]>) -> ()
  }) : () -> ()
}) : () -> ()

// -----

"builtin.module"() ({
  // expected-error@+1 {{GS101: MLIR syntax error}}
  "gs.graph"() <{sym_name = "Cut", arg_names = ["x"], output_types = [!gs.tensor<f32,

// -----

// expected-error@+1 {{GS211: builtin.module: malformed MLIR input: Region 'body' at position 0 expected a single block, but got 0 blocks}}
"builtin.module"() ({
}) : () -> ()
