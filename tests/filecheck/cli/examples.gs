// The shipped examples verify, and print -> parse -> print is the identity on their text.
// RUN: graphsynth-opt %examples/mlp.gs -o %t.mlp.gs
// RUN: graphsynth-opt %t.mlp.gs -o %t.mlp2.gs
// RUN: diff %t.mlp.gs %t.mlp2.gs
// RUN: graphsynth-opt %examples/mlp.gs | graphsynth-opt | filecheck %s --check-prefix=MLP
// RUN: graphsynth-opt %examples/convnet.gs -o %t.conv.gs
// RUN: graphsynth-opt %t.conv.gs -o %t.conv2.gs
// RUN: diff %t.conv.gs %t.conv2.gs
// RUN: graphsynth-opt %examples/convnet.gs | graphsynth-opt | filecheck %s --check-prefix=CONV
// RUN: graphsynth-opt %examples/transformer_block.gs -o %t.block.gs
// RUN: graphsynth-opt %t.block.gs -o %t.block2.gs
// RUN: diff %t.block.gs %t.block2.gs
// RUN: graphsynth-opt %examples/transformer_block.gs | graphsynth-opt | filecheck %s --check-prefix=BLOCK

// MLP-LABEL: graph MLP(x: f32[B, 784]) -> f32[B, 10] {
// MLP-NEXT:    param fc1.weight: f32[256, 784]
// MLP:         module fc1 : Linear {
// MLP-NEXT:      %0: f32[B, 256] = linear(x, fc1.weight, fc1.bias)
// MLP-NEXT:    }
// MLP:         return %4
// MLP-NEXT:  }

// CONV-LABEL: graph ConvNet(x: f32[B, 3, H, W]) -> f32[B, 10] {
// CONV:         conv2d(
// CONV:         return

// BLOCK-LABEL: graph Block(x: f32[B, S, 64]) -> f32[B, S, 64] {
// BLOCK:         module attn : Attention {
// BLOCK-NEXT:      module attn.qkv : Linear {
// BLOCK-NEXT:        %1: f32[B, S, 192] = linear(%0, attn.qkv.weight, attn.qkv.bias)
// BLOCK-NEXT:      }
// BLOCK-NEXT:      %2: f32[B, S, 64], %3: f32[B, S, 64], %4: f32[B, S, 64] = split(%1, dim=-1, sizes=[64, 64, 64])
// BLOCK:         %11: f32[B, 4, S, 16] = attention(%6, %8, %10, is_causal=true)
// BLOCK:         return %20
