// RUN: graphsynth-opt %s -p 'insert-block{after=fc1 before=act block=adapter hidden=16}' | filecheck %s --check-prefix=ADAPTER
// RUN: graphsynth-opt %s -p 'insert-block{after=act before=fc2 block=layer_norm}' | filecheck %s --check-prefix=LN
// RUN: graphsynth-opt %s -p 'insert-block{after=act before=fc2 block=mlp hidden=32 activation=relu path=extra.mlp}' | filecheck %s --check-prefix=MLP
// RUN: graphsynth-opt %s -p 'insert-block{after=act before=fc2}' | graphsynth-opt -p canonicalize | filecheck %s --check-prefix=IDENTITY
// RUN: not graphsynth-opt %s -p 'insert-block{after=fc1 before=fc2 block=adapter}' 2>&1 | filecheck %s --check-prefix=NOEDGE
// RUN: not graphsynth-opt %s -p 'insert-block{after=fc1 before=fc9 block=adapter}' 2>&1 | filecheck %s --check-prefix=NOMODULE
// RUN: not graphsynth-opt %s -p 'insert-block{after=act before=fc2 block=adapter features=128}' 2>&1 | filecheck %s --check-prefix=FEATURES
// RUN: not graphsynth-opt %s -p 'insert-block{after=embed before=fc1 block=layer_norm}' 2>&1 | filecheck %s --check-prefix=DTYPE
// RUN: not graphsynth-opt %s -p 'insert-block{after=split before=join block=adapter}' 2>&1 | filecheck %s --check-prefix=TWO
// RUN: graphsynth-opt %s -p 'insert-block{after=split before=join block=identity value=%hi}' | filecheck %s --check-prefix=PICK
// RUN: not graphsynth-opt %s -p 'insert-block{after=fc1 before=act block=sandwich}' 2>&1 | filecheck %s --check-prefix=KIND
// insert-block puts a block on the edge between two modules: new params under a new module
// path, the module in the table, and only the second module reads the block's output.

// ADAPTER-LABEL: graph Net(
// ADAPTER:         param fc2.bias: f32[10]
// ADAPTER-NEXT:    param fc1_to_act_adapter.down.weight: f32[16, 32]
// ADAPTER-NEXT:    param fc1_to_act_adapter.down.bias: f32[16]
// ADAPTER-NEXT:    param fc1_to_act_adapter.up.weight: f32[32, 16]
// ADAPTER-NEXT:    param fc1_to_act_adapter.up.bias: f32[32]
// ADAPTER:         module fc1_to_act_adapter : Adapter {
// ADAPTER-NEXT:      module fc1_to_act_adapter.down : Linear {
// ADAPTER-NEXT:        %fc1_to_act_adapter.0: f32[B, 16] = linear(%0, fc1_to_act_adapter.down.weight, fc1_to_act_adapter.down.bias)
// ADAPTER-NEXT:      }
// ADAPTER-NEXT:      %fc1_to_act_adapter.1: f32[B, 16] = gelu(%fc1_to_act_adapter.0)
// ADAPTER-NEXT:      module fc1_to_act_adapter.up : Linear {
// ADAPTER-NEXT:        %fc1_to_act_adapter.2: f32[B, 32] = linear(%fc1_to_act_adapter.1, fc1_to_act_adapter.up.weight, fc1_to_act_adapter.up.bias)
// ADAPTER-NEXT:      }
// ADAPTER-NEXT:      %fc1_to_act_adapter.3: f32[B, 32] = add(%0, %fc1_to_act_adapter.2)
// ADAPTER-NEXT:    }
// ADAPTER-NEXT:    module act : ReLU {
// ADAPTER-NEXT:      %1: f32[B, 32] = relu(%fc1_to_act_adapter.3)
// ADAPTER:         return %3, %0

// LN:              module act_to_fc2_layer_norm : LayerNorm {
// LN-NEXT:           %act_to_fc2_layer_norm.0: f32[B, 32] = layer_norm(%1, act_to_fc2_layer_norm.weight, act_to_fc2_layer_norm.bias, normalized_shape=[32], eps=1e-05)
// LN-NEXT:         }
// LN-NEXT:         module fc2 : Linear {
// LN-NEXT:           %3: f32[B, 10] = linear(%act_to_fc2_layer_norm.0, fc2.weight, fc2.bias)

// MLP:             param extra.mlp.fc1.weight: f32[32, 32]
// MLP:             module extra.mlp : MLP {
// MLP:               %mlp.1: f32[B, 32] = relu(%mlp.0)
// MLP:               %3: f32[B, 10] = linear(%mlp.2, fc2.weight, fc2.bias)

// IDENTITY-LABEL: graph Net(
// IDENTITY-NOT:   identity
// IDENTITY:       %3: f32[B, 10] = linear(%1, fc2.weight, fc2.bias)

// NOEDGE: error[GS406]: insert-block: no value flows from module 'fc1' to module 'fc2' in graph 'Net'
// NOEDGE: note: module 'fc1' sends: %0: f32[B, 32] -> module act; %0: f32[B, 32] -> the graph output
// NOEDGE: note: module 'fc2' reads: %1: f32[B, 32] <- module act

// NOMODULE: error[GS405]: insert-block: before=fc9: graph 'Net' has no module 'fc9'
// NOMODULE: help: did you mean fc2, fc1?
// NOMODULE: note: top-level modules: embed, fc1, act, fc2, split, join

// FEATURES: error[GS407]: insert-block: block adapter expects features=128, but the edge %1 from module 'act' to module 'fc2' carries f32[B, 32] (last dim 32)
// FEATURES: note: violated: 32 == 128

// DTYPE: error[GS407]: insert-block: block layer_norm needs a float tensor, but the edge %ids from module 'embed' to module 'fc1' carries i64[B, 32]

// TWO: error[GS406]: insert-block: 2 values flow from module 'split' to module 'join' (%lo: f32[B, 16], %hi: f32[B, 16]); a block takes one
// TWO: help: pick one with value=%lo

// PICK:      module split_to_join_identity : Identity {
// PICK-NEXT:   %split_to_join_identity.0: f32[B, 16] = identity(%hi)
// PICK:      %j: f32[B, 32] = concat(%lo, %split_to_join_identity.0, dim=1)

// KIND: error[GS404]: {{.*}}unknown block kind 'sandwich'; valid kinds: identity
graph Net(x: f32[B, 64], t: i64[B, 32]) -> (f32[B, 10], f32[B, 32], f32[B, 32], f32[B, 32]) {
  param fc1.weight: f32[32, 64]
  param fc1.bias: f32[32]
  param fc2.weight: f32[10, 32]
  param fc2.bias: f32[10]
  module embed : Embedding {
    %ids: i64[B, 32] = add(t, 1)
  }
  module fc1 : Linear {
    %0: f32[B, 32] = linear(x, fc1.weight, fc1.bias)
    %u: f32[B, 32] = cast(%ids, dtype=f32)
  }
  module act : ReLU {
    %1: f32[B, 32] = relu(%0)
  }
  module fc2 : Linear {
    %3: f32[B, 10] = linear(%1, fc2.weight, fc2.bias)
  }
  module split : Split {
    %lo: f32[B, 16], %hi: f32[B, 16] = split(%1, dim=1, sizes=[16, 16])
  }
  module join : Join {
    %j: f32[B, 32] = concat(%lo, %hi, dim=1)
  }
  return %3, %0, %u, %j
}
