// -o is written atomically and only by a run without errors: a failing chunk of
// --split-input-file leaves the output (here: the input itself) byte for byte as it was, and
// the chunks that passed still go to stdout.  Paths that cannot be read or written are GS001 /
// GS002 diagnostics; an input over --read-limit is GS003 (all exit 2).
// RUN: cp %s %t.gs
// RUN: not graphsynth-opt --split-input-file %t.gs -o %t.gs
// RUN: diff %s %t.gs
// RUN: echo kept > %t.other
// RUN: not graphsynth-opt --split-input-file %s -o %t.other
// RUN: filecheck %s --input-file %t.other --check-prefix=KEPT
// RUN: not graphsynth-opt --split-input-file %s 2>/dev/null | filecheck %s --check-prefix=STDOUT
// RUN: not graphsynth-opt %s --read-limit 100 2>&1 | filecheck %s --check-prefix=LIMIT
// RUN: not graphsynth-opt %s -o %t.missing/dir/out.gs 2>&1 | filecheck %s --check-prefix=NODIR
// RUN: not graphsynth-opt --replay %t.missing.jsonl 2>&1 | filecheck %s --check-prefix=NOREPLAY

// KEPT: kept
// STDOUT: graph Passes(x: f32[4]) -> f32[4]
// STDOUT: graph AlsoPasses(x: f32[4]) -> f32[4]
// LIMIT: graphsynth-opt: error[GS003]: input '{{.*}}output-files.gs' ({{[0-9]+}} bytes) exceeds the read limit of 100 bytes
// NODIR: graphsynth-opt: error[GS002]: cannot write '{{.*}}dir/out.gs': folder '{{.*}}' does not exist
// NOREPLAY: graphsynth-opt: error[GS001]: cannot read transcript '{{.*}}missing.jsonl': No such file or directory

graph Passes(x: f32[4]) -> f32[4] {
  return x
}
// -----
graph Fails(x: f32[4]) -> f32[4] {
  %0: f32[5] = relu(x)
  return %0
}
// -----
graph AlsoPasses(x: f32[4]) -> f32[4] {
  return x
}
