// Exit codes: 0 ok, 1 diagnostics, 2 usage and path errors (lit's `not` only tells zero from
// non-zero; the pytest suite tests/test_cli_exit_codes.py pins 1 and 2 apart).  Usage errors print
// one line "graphsynth-opt: error: ...", a GS404 for the pipeline, or a GS001/GS002 naming the
// path that cannot be read or written, never a traceback.
// RUN: graphsynth-opt %s
// RUN: not graphsynth-opt %S/Inputs/bad-dim.gs 2>&1 | filecheck %s --check-prefix=DIAG
// RUN: not graphsynth-opt %s -p no-such-pass 2>&1 | filecheck %s --check-prefix=PASS
// RUN: not graphsynth-opt %s -p 'canonicalize{bogus=1}' 2>&1 | filecheck %s --check-prefix=OPTION
// RUN: not graphsynth-opt %s -p 'canonicalize{' 2>&1 | filecheck %s --check-prefix=SYNTAX
// RUN: not graphsynth-opt %s --no-such-flag 2>&1 | filecheck %s --check-prefix=FLAG
// RUN: not graphsynth-opt %S/Inputs/does-not-exist.gs 2>&1 | filecheck %s --check-prefix=MISSING
// RUN: not graphsynth-opt %S/Inputs 2>&1 | filecheck %s --check-prefix=DIR
// RUN: not graphsynth-opt %s -o %S/Inputs 2>&1 | filecheck %s --check-prefix=OUT
// RUN: not graphsynth-opt %s --emit=xml 2>&1 | filecheck %s --check-prefix=EMIT

// DIAG: error[GS305]: relu: result %0 must be f32[B, 4], which the op produces, but is declared f32[B, 5] (dim 1)
// DIAG-NOT: Traceback
// PASS: error[GS404]: unknown pass 'no-such-pass' in pipeline 'no-such-pass'
// OPTION: error[GS404]: pass 'canonicalize' has no option 'bogus'
// SYNTAX: error[GS404]: malformed pass pipeline 'canonicalize{'
// FLAG: graphsynth-opt: error: unrecognized arguments: --no-such-flag
// MISSING: graphsynth-opt: error[GS001]: cannot read input '{{.*}}does-not-exist.gs': No such file or directory
// DIR: graphsynth-opt: error[GS001]: cannot read input '{{.*}}Inputs': Is a directory
// OUT: graphsynth-opt: error[GS002]: cannot write '{{.*}}Inputs': Is a directory
// EMIT: graphsynth-opt: error: argument --emit: invalid choice: 'xml'

graph Ok(x: f32[B, 4]) -> f32[B, 4] {
  return x
}
