// Used by io.gs and exit-codes.gs: a graph whose declared result type is wrong.
graph Bad(x: f32[B, 4]) -> f32[B, 4] {
  %0: f32[B, 5] = relu(x)
  return x
}
