// RUN: graphsynth-opt -p canonicalize %s | filecheck %s
// RUN: graphsynth-opt -p canonicalize %s | graphsynth-opt -p canonicalize | filecheck %s
// canonicalize folds no-ops and identities, and leaves everything else (and value names) alone;
// a second run finds nothing more to do.

// dropout at inference and identity vanish; a reshape to the same type vanishes; a chain of
// reshapes is one reshape of the first input; transpose(permute(t)) that composes to the
// identity is t; x*1, 0+x, x-0 and x/1.0 are x.  x*2 and a training-mode dropout stay.
// CHECK-LABEL: graph Canon(x: f32[B, 4, 6]) -> f32[B, 4, 6] {
// CHECK-NEXT:    %4: f32[B, 6, 4] = reshape(x, shape=[B, 6, 4])
// CHECK-NEXT:    %5: f32[B, 4, 6] = transpose(%4, dim0=1, dim1=2)
// CHECK-NEXT:    %12: f32[B, 4, 6] = mul(%5, 2)
// CHECK-NEXT:    %13: f32[B, 4, 6] = dropout(%12, p=0.1, train=true)
// CHECK-NEXT:    return %13
// CHECK-NEXT:  }
graph Canon(x: f32[B, 4, 6]) -> f32[B, 4, 6] {
  %0: f32[B, 4, 6] = dropout(x, p=0.1)
  %1: f32[B, 4, 6] = identity(%0)
  %2: f32[B, 4, 6] = reshape(%1, shape=[B, 4, 6])
  %3: f32[B, 24] = reshape(%2, shape=[B, 24])
  %4: f32[B, 6, 4] = reshape(%3, shape=[B, 6, 4])
  %5: f32[B, 4, 6] = transpose(%4, dim0=1, dim1=2)
  %6: f32[B, 6, 4] = permute(%5, dims=[0, 2, 1])
  %7: f32[B, 4, 6] = transpose(%6, dim0=1, dim1=2)
  %8: f32[B, 4, 6] = mul(%7, 1)
  %9: f32[B, 4, 6] = add(0, %8)
  %10: f32[B, 4, 6] = sub(%9, 0)
  %11: f32[B, 4, 6] = div(%10, 1.0)
  %12: f32[B, 4, 6] = mul(%11, 2)
  %13: f32[B, 4, 6] = dropout(%12, p=0.1, train=true)
  return %13
}

// Permutations that do not cancel compose into one permutation of the first input (the
// last op keeps its name); adding a tensor is never folded.
// CHECK-LABEL: graph Compose(x: f32[B, 2, 3, 4], z: f32[B, 2, 4, 3]) -> f32[B, 2, 4, 3] {
// CHECK-NEXT:    %3: f32[B, 2, 4, 3] = permute(x, dims=[0, 1, 3, 2])
// CHECK-NEXT:    %4: f32[B, 2, 4, 3] = add(%3, z)
// CHECK-NEXT:    return %4
graph Compose(x: f32[B, 2, 3, 4], z: f32[B, 2, 4, 3]) -> f32[B, 2, 4, 3] {
  %1: f32[B, 3, 4, 2] = permute(x, dims=[0, 2, 3, 1])
  %2: f32[B, 4, 3, 2] = transpose(%1, dim0=1, dim1=2)
  %3: f32[B, 2, 4, 3] = permute(%2, dims=[0, 3, 1, 2])
  %4: f32[B, 2, 4, 3] = add(%3, z)
  return %4
}
