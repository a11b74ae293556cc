// Sorting, scans, flips and rolls, 1-d pooling, log1p and one_hot: printed as written, two results
// bound on one line for topk and sort, the same text back from MLIR generic syntax, and log1p
// fused with its elementwise neighbours.
// RUN: graphsynth-opt %s | filecheck %s
// RUN: graphsynth-opt %s --emit=mlir | filecheck %s --check-prefix=MLIR
// RUN: graphsynth-opt %s -o %t.gs
// RUN: graphsynth-opt %s --emit=mlir | graphsynth-opt --input=mlir | diff %t.gs -
// RUN: graphsynth-opt %s -p fuse-elementwise | filecheck %s --check-prefix=FUSED

// CHECK-LABEL: graph Seq(x: f32[B, 4, S], i: i64[B]) -> (f32[B, 4, 2], f32[B, 4, (S+1)//2], i64[B, 5]) {
// CHECK-NEXT:   %v: f32[B, 4, 2], %ix: i64[B, 4, 2] = topk(x, k=2)
// CHECK-NEXT:   %s: f32[B, 4, S], %si: i64[B, 4, S] = sort(x, dim=1, descending=true)
// CHECK-NEXT:   %a: i64[B, 4, S] = argsort(x, stable=true)
// CHECK-NEXT:   %c: f32[B, 4, S] = cumprod(%s, dim=2)
// CHECK-NEXT:   %l: f32[B, 4] = logsumexp(%c, dims=[-1])
// CHECK-NEXT:   %f: f32[B, 4, S] = flip(x, dims=[0, 2])
// CHECK-NEXT:   %r: f32[B, 4, S] = roll(%f, shifts=[1, -2], dims=[1, 2])
// CHECK-NEXT:   %e: f32[B, 4, S] = exp(%r)
// CHECK-NEXT:   %lp: f32[B, 4, S] = log1p(%e)
// CHECK-NEXT:   %p: f32[B, 4, (S+1)//2] = max_pool1d(%lp, kernel_size=[3], stride=[2], padding=[1])
// CHECK-NEXT:   %q: f32[B, 4, S//2] = avg_pool1d(x, kernel_size=[2])
// CHECK-NEXT:   %aa: f32[B, 4, 2] = adaptive_avg_pool1d(%q, output_size=[2])
// CHECK-NEXT:   %oh: i64[B, 5] = one_hot(i, num_classes=5)
// CHECK-NEXT:   %sum: f32[B, 4, 2] = add(%v, %aa)
// CHECK-NEXT:   return %sum, %p, %oh

// MLIR: %{{.*}}, %{{.*}} = "gs.topk"(%{{.*}}) <{k = #builtin.int<2>, names = ["v", "ix"]}>
// MLIR-SAME: -> (!gs.tensor<f32, ["B", 4, 2]>, !gs.tensor<i64, ["B", 4, 2]>)
// MLIR: "gs.max_pool1d"(%{{.*}}) <{kernel_size = [#builtin.int<3>], stride = [#builtin.int<2>], padding = [#builtin.int<1>]

// FUSED: %{{.*}}: f32[B, 4, S] = fused(%r) {
// FUSED:   exp(
// FUSED:   log1p(
// FUSED:   yield
// FUSED: max_pool1d(

graph Seq(x: f32[B, 4, S], i: i64[B]) -> (f32[B, 4, 2], f32[B, 4, (S+1)//2], i64[B, 5]) {
  %v: f32[B, 4, 2], %ix: i64[B, 4, 2] = topk(x, k=2)
  %s: f32[B, 4, S], %si: i64[B, 4, S] = sort(x, dim=1, descending=true)
  %a: i64[B, 4, S] = argsort(x, stable=true)
  %c: f32[B, 4, S] = cumprod(%s, dim=2)
  %l: f32[B, 4] = logsumexp(%c, dims=[-1])
  %f: f32[B, 4, S] = flip(x, dims=[0, 2])
  %r: f32[B, 4, S] = roll(%f, shifts=[1, -2], dims=[1, 2])
  %e: f32[B, 4, S] = exp(%r)
  %lp: f32[B, 4, S] = log1p(%e)
  %p: f32[B, 4, (S+1)//2] = max_pool1d(%lp, kernel_size=[3], stride=[2], padding=[1])
  %q: f32[B, 4, S//2] = avg_pool1d(x, kernel_size=[2])
  %aa: f32[B, 4, 2] = adaptive_avg_pool1d(%q, output_size=[2])
  %oh: i64[B, 5] = one_hot(i, num_classes=5)
  %sum: f32[B, 4, 2] = add(%v, %aa)
  return %sum, %p, %oh
}
