// --timing (or mlir-opt's spelling --mlir-timing) reports on stderr the wall time of each phase
// and of each pass with the verifier run after it, as mlir-opt's execution time report; JSON with
// --timing-format=json (or --mlir-output-format=json).
// RUN: graphsynth-opt %s -p canonicalize,cse --mlir-timing 2> %t.txt | filecheck %s --check-prefix=IR
// RUN: filecheck %s --input-file %t.txt
// RUN: graphsynth-opt %s -p cse --timing --timing-format=json 2> %t.json
// RUN: filecheck %s --input-file %t.json --check-prefix=JSON

// IR: graph Timed

// CHECK:      ===-------------------------------------------------------------------------===
// CHECK-NEXT:                          ... Execution time report ...
// CHECK-NEXT: ===-------------------------------------------------------------------------===
// CHECK-NEXT:   Total Execution Time: {{[0-9]+\.[0-9][0-9][0-9][0-9]}} seconds
// CHECK-EMPTY:
// CHECK-NEXT:   ----Wall Time----  ----Name----
// CHECK-NEXT:   {{ *[0-9]+\.[0-9][0-9][0-9][0-9] \( *[0-9]+\.[0-9]%\)}}  Read input
// CHECK-NEXT:   {{ *[0-9]+\.[0-9][0-9][0-9][0-9] \( *[0-9]+\.[0-9]%\)}}  Parse
// CHECK-NEXT:   {{ *[0-9]+\.[0-9][0-9][0-9][0-9] \( *[0-9]+\.[0-9]%\)}}  Verify
// CHECK-NEXT:   {{ *[0-9]+\.[0-9][0-9][0-9][0-9] \( *[0-9]+\.[0-9]%\)}}  Pipeline
// CHECK-NEXT:   {{ *[0-9]+\.[0-9][0-9][0-9][0-9] \( *[0-9]+\.[0-9]%\)}}    canonicalize
// CHECK-NEXT:   {{ *[0-9]+\.[0-9][0-9][0-9][0-9] \( *[0-9]+\.[0-9]%\)}}      Verify
// CHECK-NEXT:   {{ *[0-9]+\.[0-9][0-9][0-9][0-9] \( *[0-9]+\.[0-9]%\)}}    cse
// CHECK-NEXT:   {{ *[0-9]+\.[0-9][0-9][0-9][0-9] \( *[0-9]+\.[0-9]%\)}}      Verify
// CHECK-NEXT:   {{ *[0-9]+\.[0-9][0-9][0-9][0-9] \( *[0-9]+\.[0-9]%\)}}  Print
// CHECK-NEXT:   {{ *[0-9]+\.[0-9][0-9][0-9][0-9] \( *[0-9]+\.[0-9]%\)}}  Write output
// CHECK-NEXT:   {{ *[0-9]+\.[0-9][0-9][0-9][0-9] \( *[0-9]+\.[0-9]%\)}}  Rest
// CHECK-NEXT:   {{ *[0-9]+\.[0-9][0-9][0-9][0-9]}} (100.0%)  Total

// JSON:      "total": {
// JSON:      "name": "Pipeline",
// JSON:      "name": "cse",
// JSON:      "name": "Verify",
// JSON:      "name": "Rest",

graph Timed(x: f32[B, 4]) -> f32[B, 4] {
  %0: f32[B, 4] = relu(x)
  %1: f32[B, 4] = relu(x)
  %2: f32[B, 4] = add(%0, %1)
  return %2
}
