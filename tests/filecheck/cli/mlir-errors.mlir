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

// -----

// Dims: the text form's reading and range check (0..2**63-1), at the dim's position.
"builtin.module"() ({
  // expected-error@+1 {{GS108: dim 99999999999999999999 is out of range (0..9223372036854775807)}}
  "gs.graph"() <{sym_name = "Big", arg_names = ["x"], output_types = [!gs.tensor<f32, [99999999999999999999, 4]>], modules = []}> ({
  ^bb0(%0: !gs.tensor<f32, ["B", 4]>):
    "gs.return"(%0) : (!gs.tensor<f32, ["B", 4]>) -> ()
  }) : () -> ()
}) : () -> ()

// -----

"builtin.module"() ({
  // expected-error@+1 {{GS307: symbolic expression too large}}
  "gs.graph"() <{sym_name = "Product", arg_names = ["x"], output_types = [!gs.tensor<f32, ["(a0+b0)*(a1+b1)*(a2+b2)*(a3+b3)*(a4+b4)*(a5+b5)*(a6+b6)*(a7+b7)*(a8+b8)*(a9+b9)", 4]>], modules = []}> ({
  ^bb0(%0: !gs.tensor<f32, ["B", 4]>):
    "gs.return"(%0) : (!gs.tensor<f32, ["B", 4]>) -> ()
  }) : () -> ()
}) : () -> ()

// -----

// An attribute is refused before xDSL materialises its elements.
"builtin.module"() ({
  "gs.graph"() <{sym_name = "Dense", arg_names = ["x"], output_types = [!gs.tensor<f32, ["B", 4]>], modules = []}> ({
  ^bb0(%0: !gs.tensor<f32, ["B", 4]>):
    // expected-error@+1 {{GS308: a dense attribute of type 300000000 would hold 300000000 elements, over the limit of 1048576}}
    %1 = "gs.relu"(%0) <{names = ["0"], junk = dense<1.0> : tensor<300000000xf32>}> : (!gs.tensor<f32, ["B", 4]>) -> !gs.tensor<f32, ["B", 4]>
    "gs.return"(%1) : (!gs.tensor<f32, ["B", 4]>) -> ()
  }) : () -> ()
}) : () -> ()
