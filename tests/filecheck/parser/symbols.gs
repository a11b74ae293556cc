// `symbol NAME: [min, max] step k` says what a symbol may be: the multiples of k in [min, max]
// (max may be inf).  Text and MLIR keep the declarations.
// RUN: graphsynth-opt %s | filecheck %s
// RUN: graphsynth-opt %s -o %t.gs
// RUN: graphsynth-opt %s --emit=mlir -o %t.mlir
// RUN: graphsynth-opt %t.mlir | diff %t.gs -
// RUN: graphsynth-opt %s --emit=mlir | filecheck %s --check-prefix=MLIR

// CHECK:      graph Audio(x: f32[B, S], ids: i64[B, T]) -> (f32[B, 4, (S+240)//320-1], i64[S-1], i64[B, T//8, 8]) {
// CHECK-NEXT:   symbol S: [400, 4000]
// CHECK-NEXT:   symbol T: [8, inf] step 8
// CHECK-NEXT:   param conv.weight: f32[4, 1, 400]

// MLIR: symbols = {{\[}}["S", #builtin.int<400>, #builtin.int<4000>, #builtin.int<1>], ["T", #builtin.int<8>, "inf", #builtin.int<8>]]

graph Audio(x: f32[B, S], ids: i64[B, T]) -> (f32[B, 4, (S-400)//320+1], i64[S-1], i64[B, T//8, 8]) {
  symbol S: [400, 4000]
  symbol T: [8, inf] step 8
  param conv.weight: f32[4, 1, 400]
  %0: f32[B, 1, S] = unsqueeze(x, dim=1)
  %1: f32[B, 4, (S-400)//320+1] = conv1d(%0, conv.weight, stride=[320])
  %2: i64[S-1] = arange(end=S-1)
  // Only the step proves B*(T//8)*8 == B*T.
  %3: i64[B, T//8, 8] = reshape(ids, shape=[B, T//8, 8])
  return %1, %2, %3
}
