// --load-pass-plugin imports a Python file (or module) that registers passes, before the rest of
// the command line is read, as mlir-opt's --load-pass-plugin loads a pass library.
// RUN: graphsynth-opt --load-pass-plugin %examples/custom_pass.py -p simplify-activations %s | filecheck %s
// RUN: graphsynth-opt --load-pass-plugin=%examples/custom_pass.py --help | filecheck %s --check-prefix=HELP
// RUN: not graphsynth-opt -p simplify-activations %s 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: not graphsynth-opt --load-pass-plugin %s.missing.py %s 2>&1 | filecheck %s --check-prefix=MISSING
// RUN: not graphsynth-opt --load-pass-plugin no_such_plugin_module %s 2>&1 | filecheck %s --check-prefix=NOMODULE

// CHECK-LABEL: graph Acts(x: f32[B, 8]) -> f32[B, 8] {
// CHECK-NEXT:    %0: f32[B, 8] = relu(x)
// CHECK-NEXT:    return %0
// CHECK-NEXT:  }

// HELP: --load-pass-plugin FILE.py|MODULE
// HELP: simplify-activations   Collapse relu(relu(x)) to relu(x) and neg(neg(x)) to x.

// UNKNOWN: error[GS404]: unknown pass 'simplify-activations'

// MISSING: graphsynth-opt: error: --load-pass-plugin: no such file '{{.*}}pass-plugin.gs.missing.py'

// NOMODULE: graphsynth-opt: error: --load-pass-plugin: no module named 'no_such_plugin_module'

graph Acts(x: f32[B, 8]) -> f32[B, 8] {
  %0: f32[B, 8] = relu(x)
  %1: f32[B, 8] = relu(%0)
  return %1
}
