// Fourier transforms and complex values: c64/c128 types printed as written, the same text back
// from MLIR generic syntax, and complex values kept out of fused regions (no kernel holds them).
// RUN: graphsynth-opt %s | filecheck %s
// RUN: graphsynth-opt %s --emit=mlir | filecheck %s --check-prefix=MLIR
// RUN: graphsynth-opt %s -o %t.gs
// RUN: graphsynth-opt %s --emit=mlir | graphsynth-opt --input=mlir | diff %t.gs -
// RUN: graphsynth-opt %s -p fuse-elementwise | filecheck %s --check-prefix=FUSED

// CHECK-LABEL: graph Mix(x: f32[B, S, 8], y: f64[B, S]) -> (f32[B, S, 8], f64[B, S]) {
// CHECK-NEXT:   %a: f32[B, S, 8] = mul(x, 2.0)
// CHECK-NEXT:   %f: c64[B, S, 8] = fft(%a, dims=[-2, -1])
// CHECK-NEXT:   %g: c64[B, S, 8] = mul(%f, %f)
// CHECK-NEXT:   %h: c64[B, S, 8] = add(%g, %a)
// CHECK-NEXT:   %re: f32[B, S, 8] = real(%h)
// CHECK-NEXT:   %m: f32[B, S, 8] = abs(%h)
// CHECK-NEXT:   %r: c128[B, S//2+1] = rfft(y, dims=[1], norm="ortho")
// CHECK-NEXT:   %i: f64[B, S] = irfft(%r, dims=[1], norm="ortho", n=S)
// CHECK-NEXT:   %v: f32[B, S, 8, 2] = view_as_real(%f)
// CHECK-NEXT:   %c: c64[B, S, 8] = view_as_complex(%v)
// CHECK-NEXT:   %im: f32[B, S, 8] = imag(%c)
// CHECK-NEXT:   %z: c64[B, S, 8] = complex(%re, %im)
// CHECK-NEXT:   %n: f32[B, S, 8] = abs(%z)
// CHECK-NEXT:   %o: f32[B, S, 8] = add(%m, %n)
// CHECK-NEXT:   %p: f32[B, S, 8] = relu(%o)
// CHECK-NEXT:   return %p, %i

// MLIR: "gs.fft"(%{{.*}}) <{dims = [#builtin.int<-2>, #builtin.int<-1>]{{.*}}-> !gs.tensor<c64, ["B", "S", 8]>
// MLIR: !gs.tensor<c128, ["B", "S//2+1"]>

// The ops on complex values stay outside fused regions; the real ones after them are fused.
// FUSED:      %a: f32[B, S, 8] = mul(x, 2.0)
// FUSED-NEXT: %f: c64[B, S, 8] = fft(%a, dims=[-2, -1])
// FUSED-NEXT: %g: c64[B, S, 8] = mul(%f, %f)
// FUSED-NEXT: %h: c64[B, S, 8] = add(%g, %a)
// FUSED:      %p: f32[B, S, 8] = fused(%m, %n) {

graph Mix(x: f32[B, S, 8], y: f64[B, S]) -> (f32[B, S, 8], f64[B, S]) {
  %a: f32[B, S, 8] = mul(x, 2.0)
  %f: c64[B, S, 8] = fft(%a, dims=[-2, -1])
  %g: c64[B, S, 8] = mul(%f, %f)
  %h: c64[B, S, 8] = add(%g, %a)
  %re: f32[B, S, 8] = real(%h)
  %m: f32[B, S, 8] = abs(%h)
  %r: c128[B, S//2+1] = rfft(y, dims=[1], norm="ortho")
  %i: f64[B, S] = irfft(%r, dims=[1], norm="ortho", n=S)
  %v: f32[B, S, 8, 2] = view_as_real(%f)
  %c: c64[B, S, 8] = view_as_complex(%v)
  %im: f32[B, S, 8] = imag(%c)
  %z: c64[B, S, 8] = complex(%re, %im)
  %n: f32[B, S, 8] = abs(%z)
  %o: f32[B, S, 8] = add(%m, %n)
  %p: f32[B, S, 8] = relu(%o)
  return %p, %i
}
