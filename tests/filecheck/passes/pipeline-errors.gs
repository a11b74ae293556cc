// Bad pipelines are usage errors (exit 2, checked by tests/test_passes_infra.py) that list the
// valid choices; a pass that fails names itself and the op.
// RUN: not graphsynth-opt %s -p fuse-elementwse 2>&1 | filecheck %s --check-prefix=NAME
// RUN: not graphsynth-opt %s -p 'fuse-elementwise{max_opz=3}' 2>&1 | filecheck %s --check-prefix=OPTION
// RUN: not graphsynth-opt %s -p 'canonicalize,fuse-elementwise{max-opz=3}' 2>&1 | filecheck %s --check-prefix=OPTION
// RUN: not graphsynth-opt %s -p 'fuse-elementwise{max-ops=many}' 2>&1 | filecheck %s --check-prefix=TYPE
// RUN: not graphsynth-opt %s -p 'canonicalize,{' 2>&1 | filecheck %s --check-prefix=SYNTAX
// RUN: not graphsynth-opt %s -p 'outline{module=nowhere}' 2>&1 | filecheck %s --check-prefix=FAILED

// NAME: error[GS404]: unknown pass 'fuse-elementwse' in pipeline 'fuse-elementwse'
// NAME-NEXT: help: did you mean 'fuse-elementwise'? registered passes: {{.*}}fold-constants{{.*}}insert-block{{.*}}outline

// OPTION: error[GS404]: pass 'fuse-elementwise' has no option 'max-opz'
// OPTION-NEXT: help: options of 'fuse-elementwise': max-ops: int = 64; min-ops: int = 2

// TYPE: error[GS404]: option 'max-ops' of pass 'fuse-elementwise' expects int, got 'many'

// SYNTAX: error[GS404]: malformed pass pipeline 'canonicalize,{' at column 14: expected pass name here

// FAILED: error[GS405]: outline: graph 'G' has no module 'nowhere'
// FAILED-NOT: Traceback
graph G(x: f32[4]) -> f32[4] {
  %0: f32[4] = relu(x)
  return %0
}
