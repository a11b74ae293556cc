// RUN: graphsynth-opt --verify-diagnostics --split-input-file %s
// Rejections of complex values and of the spectral ops, each at the op's line.

graph RealOnly(x: f32[B, 8]) -> f32[B, 8] {
  %f: c64[B, 8] = fft(x, dims=[-1])
  // expected-error@+1 {{GS335: relu: operand #0 (%f) must have a float, integer or bool dtype (relu does not take complex values), got c64}}
  %r: f32[B, 8] = relu(%f)
  return %r
}

// -----

graph ComplexOnly(x: f32[B, 8]) -> f32[B, 14] {
  // expected-error@+1 {{GS335: irfft: operand #0 (x) must have a complex dtype (irfft does not take float values), got f32}}
  %r: f32[B, 14] = irfft(x, dims=[-1])
  return %r
}

// -----

graph TwiceDim(x: f32[B, 8]) -> c64[B, 8] {
  // expected-error@+1 {{GS336: fft: operand #0 (x) dims must name each dim once, got [1, -1]}}
  %f: c64[B, 8] = fft(x, dims=[1, -1])
  return %f
}

// -----

graph NoLength(x: c64[B, 1]) -> f32[B, 0] {
  // expected-error@+1 {{GS337: irfft: operand #0 (x) n (the length of the last transformed dim) must be at least 1, got 0}}
  %r: f32[B, 0] = irfft(x, dims=[-1])
  return %r
}

// -----

graph Pairs(x: f32[B, 3]) -> c64[B] {
  // expected-error@+1 {{GS301: view_as_complex: operand #0 (x) has shape [B, 3]; dim -1 must equal 2 (real and imaginary parts) (2)}}
  %c: c64[B] = view_as_complex(x)
  return %c
}

// -----

graph Promoted(x: f64[B, 8], y: c64[B, 8]) -> c64[B, 8] {
  // expected-error@+1 {{GS303: add: result %s must have dtype c128, which the op produces}}
  %s: c64[B, 8] = add(x, y)
  return %s
}
