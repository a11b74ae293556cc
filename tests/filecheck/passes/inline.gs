// RUN: graphsynth-opt %s --split-input-file -p inline | filecheck %s
// RUN: not graphsynth-opt %s --split-input-file -p 'outline{module=m}' 2>&1 | filecheck %s --check-prefix=CONVEX
// outline then inline prints the text it started from, on the imported models (every top-level
// module; nested modules; a module inside an outlined module):
// RUN: graphsynth-opt %S/Inputs/gpt2.gs > %t.gpt2.gs
// RUN: graphsynth-opt %S/Inputs/gpt2.gs -p outline,inline | diff %t.gpt2.gs -
// RUN: graphsynth-opt %S/Inputs/gpt2.gs -p 'outline{module=transformer.h.0.attn},outline{module=transformer.h.0},inline' | diff %t.gpt2.gs -
// RUN: graphsynth-opt %S/Inputs/gpt2.gs -p 'outline{module=transformer.h.1.mlp},outline{module=lm_head},inline' | diff %t.gpt2.gs -
// RUN: graphsynth-opt %S/Inputs/bert.gs > %t.bert.gs
// RUN: graphsynth-opt %S/Inputs/bert.gs -p outline,inline | diff %t.bert.gs -
// RUN: graphsynth-opt %S/Inputs/bert.gs -p 'outline{module=encoder.layer.1.attention},inline' | diff %t.bert.gs -
// RUN: graphsynth-opt %S/Inputs/llama.gs > %t.llama.gs
// RUN: graphsynth-opt %S/Inputs/llama.gs -p 'outline{module=model.layers.0},outline{module=model.layers.1.mlp},inline' | diff %t.llama.gs -
// RUN: graphsynth-opt %S/Inputs/vit.gs > %t.vit.gs
// RUN: graphsynth-opt %S/Inputs/vit.gs -p outline,inline | diff %t.vit.gs -
// RUN: graphsynth-opt %S/Inputs/resnet.gs > %t.resnet.gs
// RUN: graphsynth-opt %S/Inputs/resnet.gs -p 'outline{module=encoder.stages.0.layers.0},outline{module=encoder.stages.1},outline,inline' | diff %t.resnet.gs -

// A hand-written callee called twice, with its own symbol (N binds to B at the call): every call
// is replaced by the callee's body (names that clash get a suffix; an unscoped op takes the call's
// scope) and the callee, no longer called, goes away.
// CHECK-LABEL: graph Main(x: f32[B, 4]) -> f32[B, 4] {
// CHECK-NEXT:    param w: f32[4, 4]
// CHECK-NEXT:    module first : Dense {
// CHECK-NEXT:      %h: f32[B, 4] = linear(x, w)
// CHECK-NEXT:      %y: f32[B, 4] = tanh(%h)
// CHECK-NEXT:    }
// CHECK-NEXT:    module second : Dense {
// CHECK-NEXT:      %h_1: f32[B, 4] = linear(%y, w)
// CHECK-NEXT:      %y_1: f32[B, 4] = tanh(%h_1)
// CHECK-NEXT:    }
// CHECK-NEXT:    return %y_1
// CHECK-NEXT:  }
// CHECK-NOT:   graph dense
graph Main(x: f32[B, 4]) -> f32[B, 4] {
  param w: f32[4, 4]
  module first : Dense {
    %a: f32[B, 4] = call(x, w, callee="dense")
  }
  module second : Dense {
    %b: f32[B, 4] = call(%a, w, callee="dense")
  }
  return %b
}
graph dense(v: f32[N, 4], weight: f32[4, 4]) -> f32[N, 4] {
  %h: f32[N, 4] = linear(v, weight)
  %y: f32[N, 4] = tanh(%h)
  return %y
}

// -----

// A module whose value leaves it and comes back cannot be one call.
// CONVEX: error[GS406]: outline: module 'm' cannot become one call: %1 = exp (in the top level) reads a value of the module and feeds %2 = add inside it
graph NotConvex(x: f32[4]) -> f32[4] {
  module m : M {
    %0: f32[4] = relu(x)
  }
  %1: f32[4] = exp(%0)
  module m : M {
    %2: f32[4] = add(%0, %1)
  }
  return %2
}
