// --split-input-file: chunks between '// -----' lines are read, verified and printed
// independently; output chunks are separated by '// -----'; line numbers stay those of the file.
// RUN: not graphsynth-opt --split-input-file %s 2>%t.err | filecheck %s
// RUN: filecheck %s --check-prefix=ERR --input-file %t.err

// CHECK-LABEL: graph First(x: f32[4]) -> f32[4] {
// CHECK:       // -----
// CHECK-NEXT:  graph Third(x: f32[4]) -> f32[4] {
// CHECK-NOT:   graph Second

// ERR: split.gs:[[# @LINE + 12]]:3: error[GS305]: relu: result %0 must be f32[4], which the op produces, but is declared f32[5] (dim 0)
// ERR-NOT: error

graph First(x: f32[4]) -> f32[4] {
  %0: f32[4] = relu(x)
  return %0
}

// -----


graph Second(x: f32[4]) -> f32[4] {
  %0: f32[5] = relu(x)
  return x
}
// -----
graph Third(x: f32[4]) -> f32[4] {
  return x
}
