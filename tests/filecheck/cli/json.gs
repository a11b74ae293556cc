// --diagnostics=json writes a JSON list on stderr with the fields of DESIGN.md section 3 (sorted keys),
// and, for a diagnostic with a repair, its fix-it: the text edits and their applicability.
// RUN: not graphsynth-opt --diagnostics=json %s 2>&1 >/dev/null | filecheck %s
// RUN: not graphsynth-opt --diagnostics=json %s 2>&1 >/dev/null | %python -c "import json, sys; d = json.load(sys.stdin); assert len(d) == 1 and set(d[0]) == {'severity', 'code', 'message', 'op', 'value', 'loc', 'expected', 'got', 'relation', 'origin', 'fix', 'notes', 'edits', 'applicability'}, d; assert set(d[0]['loc']) == {'file', 'line', 'column'}"

// CHECK:      [
// CHECK-NEXT:  {
// CHECK-NEXT:   "applicability": "machine-applicable",
// CHECK-NEXT:   "code": "GS301",
// CHECK-NEXT:   "edits": [
// CHECK-NEXT:    {
// CHECK-NEXT:     "column": 21,
// CHECK-NEXT:     "end_column": 34,
// CHECK-NEXT:     "end_line": {{[0-9]+}},
// CHECK-NEXT:     "file": "{{.*}}json.gs",
// CHECK-NEXT:     "line": {{[0-9]+}},
// CHECK-NEXT:     "new": "f32[256, 784]",
// CHECK-NEXT:     "old": "f32[256, 700]"
// CHECK-NEXT:    }
// CHECK-NEXT:   ],
// CHECK-NEXT:   "expected": "784",
// CHECK-NEXT:   "fix": null,
// CHECK-NEXT:   "got": "700",
// CHECK-NEXT:   "loc": {
// CHECK-NEXT:    "column": 5,
// CHECK-NEXT:    "file": "{{.*}}json.gs",
// CHECK-NEXT:    "line": [[# @LINE + 23]]
// CHECK-NEXT:   },
// CHECK-NEXT:   "message": "linear: operand #1 (fc1.weight) has shape [256, 700]; dim 1 must equal dim -1 of operand #0 (784)",
// CHECK-NEXT:   "notes": [],
// CHECK-NEXT:   "op": "linear",
// CHECK-NEXT:   "origin": null,
// CHECK-NEXT:   "relation": "784 == 700",
// CHECK-NEXT:   "severity": "error",
// CHECK-NEXT:   "value": "%0"
// CHECK-NEXT:  }
// CHECK-NEXT: ]

// The same diagnostic as text: file:line:col: error[code]: op: message, the source line, a caret
// under the column, the violated relation.
// RUN: not graphsynth-opt %s 2>&1 | filecheck %s --check-prefix=TEXT
// TEXT:      json.gs:[[# @LINE + 8]]:5: error[GS301]: linear: operand #1 (fc1.weight) has shape [256, 700]; dim 1 must equal dim -1 of operand #0 (784)
// TEXT-NEXT: {{^}}    %0: f32[B, 256] = linear(x, fc1.weight, fc1.bias)
// TEXT-NEXT: {{^}}    ^
// TEXT-NEXT: {{^}}  note: violated: 784 == 700
graph MLP(x: f32[B, 784]) -> f32[B, 256] {
  param fc1.weight: f32[256, 700]
  param fc1.bias: f32[256]
  module fc1 : Linear {
    %0: f32[B, 256] = linear(x, fc1.weight, fc1.bias)
  }
  return %0
}
