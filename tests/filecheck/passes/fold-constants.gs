// RUN: graphsynth-opt %s -p fold-constants | filecheck %s
// RUN: graphsynth-opt %s -p fold-constants | graphsynth-opt -p fold-constants | filecheck %s
// RUN: graphsynth-opt %s -p 'fold-constants{max-elements=2}' | filecheck %s --check-prefix=SMALL
// fold-constants evaluates what does not depend on the graph's inputs; a second run finds nothing.

// Chains of scalar arithmetic fold into one op; full_like of an input is a full (its value does
// not depend on the input's data) and arithmetic on splats stays a splat, even with symbolic
// shapes; an op of small constants becomes one constant, a reduction of one a splat.
// CHECK-LABEL: graph Fold(x: f32[B, 4], n: i64[B]) -> (f32[B, 4], f32[B, 4], f32[2, 3], f32[], i64[3], i64[B], f32[B, 4]) {
// CHECK-NEXT:    %1: f32[B, 4] = mul(x, 6.0)
// CHECK-NEXT:    %g: f32[B, 4] = full(shape=[B, 4], value=3.5, dtype=f32)
// CHECK-NEXT:    %h: f32[B, 4] = add(x, %g)
// CHECK-NEXT:    %3: f32[2, 3] = constant(value=[2.0, 4.0, 6.0, 8.0, 10.0, 12.0], shape=[2, 3], dtype=f32)
// CHECK-NEXT:    %s: f32[] = full(shape=[], value=21.0, dtype=f32)
// CHECK-NEXT:    %b: i64[3] = constant(value=[0.0, 4.0, 8.0], shape=[3], dtype=i64)
// CHECK-NEXT:    %m: i64[B] = add(n, 2)
// CHECK-NEXT:    %q: f32[B, 4] = div(x, 8.0)
// CHECK-NEXT:    return %1, %h, %3, %s, %b, %m, %q
// CHECK-NEXT:  }
// SMALL-LABEL: graph Fold
// SMALL:         %2: f32[2, 3] = mul(%c, 2.0)
// SMALL:         %s: f32[] = full(shape=[], value=21.0, dtype=f32)
// SMALL:         %b: i64[3] = mul(%a, 4)
graph Fold(x: f32[B, 4], n: i64[B]) -> (f32[B, 4], f32[B, 4], f32[2, 3], f32[], i64[3], i64[B], f32[B, 4]) {
  %0: f32[B, 4] = mul(x, 2.0)
  %1: f32[B, 4] = mul(3.0, %0)
  %f: f32[B, 4] = full_like(x, value=1.5)
  %g: f32[B, 4] = add(%f, 2.0)
  %h: f32[B, 4] = add(x, %g)
  %c: f32[2, 3] = constant(value=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], shape=[2, 3], dtype=f32)
  %2: f32[2, 3] = mul(%c, 2.0)
  %3: f32[2, 3] = abs(%2)
  %s: f32[] = sum(%c)
  %a: i64[3] = arange(end=3)
  %b: i64[3] = mul(%a, 4)
  %k: i64[B] = sub(n, 3)
  %m: i64[B] = add(%k, 5)
  %p: f32[B, 4] = div(x, 2.0)
  %q: f32[B, 4] = div(%p, 4.0)
  return %1, %h, %3, %s, %b, %m, %q
}

// Nothing to fold: inputs flow into every op, a promotion happens on the way (i64 * 2.5 is f32),
// integer chains with a float literal and floor division stay, and training-mode dropout of a
// constant is random.
// CHECK-LABEL: graph NoFold(x: f32[B, 4], n: i64[B]) -> (f32[B, 4], f32[B], i64[B], f32[4]) {
// CHECK-NEXT:    %0: f32[B, 4] = mul(x, x)
// CHECK-NEXT:    %1: f32[B, 4] = mul(%0, 2.0)
// CHECK-NEXT:    %2: f32[B] = mul(n, 2.5)
// CHECK-NEXT:    %3: f32[B] = mul(%2, 2.0)
// CHECK-NEXT:    %4: i64[B] = div(n, 2, rounding_mode="floor")
// CHECK-NEXT:    %5: i64[B] = div(%4, 2, rounding_mode="floor")
// CHECK-NEXT:    %c: f32[4] = full(shape=[4], value=1.0, dtype=f32)
// CHECK-NEXT:    %d: f32[4] = dropout(%c, p=0.5, train=true)
// CHECK-NEXT:    return %1, %3, %5, %d
// CHECK-NEXT:  }
graph NoFold(x: f32[B, 4], n: i64[B]) -> (f32[B, 4], f32[B], i64[B], f32[4]) {
  %0: f32[B, 4] = mul(x, x)
  %1: f32[B, 4] = mul(%0, 2.0)
  %2: f32[B] = mul(n, 2.5)
  %3: f32[B] = mul(%2, 2.0)
  %4: i64[B] = div(n, 2, rounding_mode="floor")
  %5: i64[B] = div(%4, 2, rounding_mode="floor")
  %c: f32[4] = full(shape=[4], value=1.0, dtype=f32)
  %d: f32[4] = dropout(%c, p=0.5, train=true)
  return %1, %3, %5, %d
}
