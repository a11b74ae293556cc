"""Diagnostics: what went wrong, where, and what would fix it; rendered as text or JSON.

Codes are stable, grouped by the room that reports them:

- GS0xx tools (the command-line tools and :mod:`graphsynth.fileio`):
  GS000 ``--verify-diagnostics``: an expected diagnostic was not produced, or one was produced
  that no ``expected-*`` comment asked for; GS001 cannot read an input (missing, a directory,
  permission denied, not UTF-8 where text is required); GS002 cannot write an output (a missing
  or unwritable folder, a directory, disk full, the file-size limit); GS003 an input exceeds the
  read limit (``--read-limit``, ``$GRAPHSYNTH_READ_LIMIT``); GS004 interrupted (SIGINT, SIGTERM).
  GS001-GS003 exit with code 2, GS004 with 130 (SIGINT) or 143 (SIGTERM).
- GS1xx syntax (parser): GS101 unexpected token, GS102 unexpected end of input,
  GS103 invalid character or bytes, GS104 empty input, GS105 malformed dim or type,
  GS106 bad attribute value, GS107 a non-ASCII character outside strings and comments (a
  fullwidth or superscript digit, a Unicode space...: the grammar is ASCII), GS108 a number out
  of the supported range (integers in the text and dims are int64; MLIR literals and integer
  types are bounded too), GS109 nesting too deep (module blocks and regions, parentheses,
  lists, MLIR brackets).  The limits are in ``graphsynth.dialects.limits``.  GS110 folded text
  (``print_ir(m, depth=k)``, ``--depth``) is a read-only view: a folded module line cannot be
  parsed (the caret is on its fold marker).
- GS2xx structure: GS201 undefined value, GS202 duplicate name, GS203 use before definition,
  GS204 cycle, GS205 return does not match the signature, GS206 parameter declared twice or
  with conflicting types, GS207 unknown op, GS208 wrong number of operands/results,
  GS209 unknown, missing or mistyped attribute, GS210 unknown symbol in a type,
  GS211 malformed graph structure (missing return, op outside a graph, a call of a graph that
  declares parameters or buffers...).
- GS3xx shapes: GS301 dim mismatch, GS302 rank mismatch, GS303 dtype mismatch,
  GS304 cannot prove two dims equal, GS305 declared result type differs from the inferred
  one, GS306 invalid attribute value for the shapes at hand, GS307 symbolic expression too
  large (a dim whose expanded form, or an integer computed from dims, exceeds the limit),
  GS308 a type or attribute whose materialised size exceeds the budget (an MLIR ``dense``
  attribute with too many elements, an integer type too wide).
  Shared parameters and symbol declarations: GS310 a shared parameter (``param k: T = other``)
  names no parameter of the graph, GS311 it differs from the one it shares in type or kind (or
  has an ``init``), GS312 it shares one that is itself shared (a chain, or a cycle);
  GS313 a symbol declaration allows no value (``min < 1``, or ``min < 0`` for an unbacked one,
  ``max < min``, ``step < 1``, no
  multiple of the step in the range), is malformed or names a symbol twice, GS314 a declared
  symbol that no graph input has in its type.
  GS330 a count attribute provably larger than the dim it takes from (topk's ``k`` above the
  size of ``dim``).
  Unbacked symbols (data-dependent sizes, ``symbol u0: [0, inf] unbacked``): GS331 a graph input
  has an unbacked symbol in its type (an input would bind it), GS332 an op, parameter or
  attribute uses an unbacked symbol before the op that defines it, or no op defines it, GS333 two
  ops define the same unbacked symbol, GS334 the ``size`` of an op whose result size the data
  decides (``nonzero``, ``masked_select``, ``boolean_index``) is not an unbacked symbol (a backed
  or undeclared symbol, a number, an expression).
  Complex values and Fourier transforms: GS335 an operand whose dtype kind the op does not take
  (each op declares the kinds it takes: a complex value given to a real-only op such as ``relu``
  or ``linear``, a real value given to ``irfft``/``real``/``imag``, a rounding division of complex
  values), GS336 a transform's ``dims`` empty or naming a dim twice, GS337 a transform length below
  1 (``irfft``'s ``n``, given or implied by a last transformed dim of size 1).
- GS4xx passes: GS401 a pass's output does not verify, GS402 a pass raised, GS403 a pattern
  reported a change that left the IR identical, GS404 unknown pass or option,
  GS405 a module named by a pass option does not exist (or the path it would create is taken),
  GS406 the modules named do not have the required form (no edge between them, several values
  on the edge, nested modules, a module that is not convex), GS407 a block's interface does not
  fit the edge's type.
- GS5xx LLM proposals: GS501 malformed edit, GS502 anchor not found, GS503 anchor ambiguous,
  GS504 edit outside the offered text, GS505 interface changed, GS506 numerics differ,
  GS507 proposer failure, GS508 an attempt's numerical check would exceed its allocation budget
  (sent back to the model; for the input graph itself, the rewrite cannot be checked),
  GS509 deadline exceeded (a proposal's timeout or the rewrite's deadline; gives the elapsed time).
  GS510 ``--apply-fixes`` stopped without a verifying module: the fixes it could apply left
  errors (given with the remaining diagnostics), or applying them would have made the text worse
  (nothing is written then).
- GS6xx import/lowering: GS601 export failed, GS602 unsupported aten op, GS603 specialised
  dynamic dim, GS604 lowering failed, GS614 an FFT signal size (``n``, ``s``) that differs from
  the input's size by a symbolic amount (neither zero-padding nor truncation can be decided), GS605 what lowering would allocate (parameters, buffers,
  constants) exceeds the budget (``max_param_bytes``) or what torch can address, GS610 an input
  of a lowered module binds a symbol outside its declared range or step, or has a size that is
  not ``c*S + k`` for a positive integer ``S`` (raised by ``forward``); GS611 an op's result
  defines an unbacked symbol outside its declared range (the run-time count, raised by
  ``forward`` where the op runs). GS620 a size condition
  torch.export kept as a run-time assertion (one it could not prove over the dims' ranges) fails
  for some value in those ranges, so the dims are not dynamic there.
- GS7xx graph queries (graphsynth.query): GS701 unknown value or module, GS702 no path,
  GS703 token budget too small for the target, GS704 missing or bad symbol binding,
  GS705 invalid query argument.
- GS8xx gradient tools (graphsynth.grad): GS801 unknown value or module, GS802 nothing recorded
  yet (no forward or no backward), GS803 a value that cannot be differentiated or perturbed,
  GS804 the net was not lowered from this module, GS805 invalid argument, GS806 no
  differentiable path, GS807 picture cannot be drawn or written (format, missing `dot` binary, too many nodes for
  the matplotlib fallback; also the op-graph picture of ``graphsynth-opt --view-op-graph``).
- GS9xx architecture synthesis and training (graphsynth.train, graphsynth.synth): GS901 task not
  found or not readable TOML, GS902 bad task field or hyper-parameter (unknown key, type, range),
  GS903 the seed architecture does not parse, verify or fit the data, GS904 data source missing
  or unusable, GS905 bad budget expression, GS906 over the parameter/FLOP budget, GS907 exact
  duplicate (same WL hash), GS908 near duplicate (MinHash-LSH, Jaccard at or above the threshold),
  GS909 the candidate's interface does not fit the task, GS910 non-finite loss (NaN/inf), GS911
  memory cap exceeded, GS912 time cap exceeded, GS913 lowering or training failed (or the worker
  died), GS914 the proposer produced no graph (no mutation applies, proposer error), GS915
  filtered by the zero-cost proxy, GS916 not an archive (missing, corrupt, other schema or
  networkx version), GS917 bad search argument (proposer, executor, option), GS918 report cannot
  be written, GS919 the archive holds a different run.  Training dynamics (graphsynth.train:
  recording, rules, diagnosis, designers): GS920 bad argument (architecture, loss name, budget),
  GS921 a model reply holds no JSON object (or one too large or too deeply nested), GS922 a reply
  departs from its schema (names the JSON path; also steps or modules the run does not have),
  GS923 a hyper-parameter document outside the search space or repeating a trained
  configuration, GS924 a loss graph with the wrong interface (logits f32[B, C] and integer
  targets [B] in, one f32[] out, no parameters), GS925 a loss graph that would allocate too much,
  does not lower, or has a non-finite or zero gradient on a probe batch, GS926 not a training
  archive or no such run, GS927 a training report cannot be written, GS928 the monitor cannot read
  per-module statistics (warning), GS929 a designer round without a valid proposal (warning),
  GS930 an optional dependency is missing (optuna); GS931-GS938 the rules' findings, as warnings:
  divergence, exploding gradients, vanishing gradients, dead units, plateau, oscillation,
  overfitting, slow start.

Fix-its.  A diagnostic may carry ``edits``: :class:`TextEdit` values, each a range of the IR text
the diagnostic points into (1-based line and column, the end exclusive), the text expected there
and its replacement; applied together they are one repair.  ``applicability`` says how far a
program may trust them, as rustc's suggestions do: ``machine-applicable`` (the repair is
determined: ``graphsynth-opt --apply-fixes`` and the rewrite driver apply it without asking),
``maybe-incorrect`` (a plausible repair among others: shown, never applied automatically) or
``has-placeholders`` (the replacement holds a ``<...>`` placeholder a person or a model must fill
in).  :mod:`graphsynth.fixes` applies them.  The text rendering stays as it is (the ``help:`` line
says the same in words); the JSON form (``--diagnostics=json``) carries ``edits`` and
``applicability`` whenever a diagnostic has a repair.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


MACHINE_APPLICABLE = "machine-applicable"
MAYBE_INCORRECT = "maybe-incorrect"
HAS_PLACEHOLDERS = "has-placeholders"
APPLICABILITIES = (MACHINE_APPLICABLE, MAYBE_INCORRECT, HAS_PLACEHOLDERS)


@dataclass(frozen=True)
class TextEdit:
    """Replace ``old`` (the text expected at the range, so that an edit computed for other text
    is refused instead of applied in the wrong place) by ``new``.  Lines and columns are 1-based,
    the end is exclusive; an insertion has ``start == end`` and ``old == ""``."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    old: str
    new: str

    def render(self) -> str:
        where = f"{self.line}:{self.column}"
        if not self.old:
            return f"{where}: insert {self.new!r}"
        return f"{where}: replace {self.old!r} with {self.new!r}"


@dataclass
class Diagnostic:
    """One finding.  ``message`` names the op, the operand, the expected and the actual
    value, in that order; the other fields carry the same facts for machines."""

    severity: str
    code: str
    message: str
    op: str | None = None
    value: str | None = None
    loc: Location | None = None
    expected: str | None = None
    got: str | None = None
    relation: str | None = None
    origin: str | None = None
    fix: str | None = None
    notes: list[str] = field(default_factory=list)
    source_line: str | None = None
    edits: list[TextEdit] = field(default_factory=list)
    applicability: str | None = None
    # Set by the verifier on a finding at an op that reads the result of another wrong op: it
    # may be a consequence of that one and go away when it is repaired (not serialised).
    derived: bool = False

    @property
    def machine_applicable(self) -> bool:
        return bool(self.edits) and self.applicability == MACHINE_APPLICABLE

    def render(self) -> str:
        """MLIR style: ``file:line:col: error[GS301]: message``, the source line and a caret."""
        where = f"{self.loc}: " if self.loc else ""
        head = f"{where}{self.severity}[{self.code}]: {self.message}"
        lines = [head]
        if self.source_line is not None and self.loc is not None:
            # The source line as it is in the file and a caret under the column (DESIGN.md §3,
            # as mlir-opt prints them); tabs keep their width.
            lines.append(self.source_line.rstrip("\n"))
            pad = "".join("\t" if ch == "\t" else " " for ch in self.source_line[: max(self.loc.column - 1, 0)])
            lines.append(pad + "^")
        if self.relation:
            lines.append(f"  note: violated: {self.relation}")
        if self.origin:
            lines.append(f"  note: introduced by {self.origin}")
        if self.fix:
            lines.append(f"  help: {self.fix}")
        for n in self.notes:
            lines.append(f"  note: {n}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["loc"] = asdict(self.loc) if self.loc else None
        d.pop("source_line")
        d.pop("derived")
        if not self.edits:
            # Only diagnostics that carry a repair have the fix-it keys (older readers and
            # recorded transcripts see the same objects as before).
            d.pop("edits")
            d.pop("applicability")
        return d

    def to_json(self) -> str:
        import json  # only the JSON form needs it (start-up of graphsynth-opt)

        return json.dumps(self.to_dict(), sort_keys=True)

    def __str__(self) -> str:
        return self.render()


def render_all(diags: list[Diagnostic], fmt: str = "text") -> str:
    if fmt == "json":
        import json

        return json.dumps([d.to_dict() for d in diags], indent=1, sort_keys=True)
    return "\n".join(d.render() for d in diags)


class GraphsynthError(Exception):
    """Base of the errors that carry diagnostics."""

    def __init__(self, diagnostics: list[Diagnostic], summary: str | None = None):
        self.diagnostics = list(diagnostics)
        text = summary or (diagnostics[0].message if diagnostics else "error")
        if len(self.diagnostics) > 1 and summary is None:
            text += f" (and {len(self.diagnostics) - 1} more)"
        super().__init__(text)

    def render(self) -> str:
        return render_all(self.diagnostics)


class ParseError(GraphsynthError):
    """The text does not parse; ``.diagnostics`` says where and why."""


class VerificationError(GraphsynthError):
    """The module does not verify."""


class PassError(GraphsynthError):
    """A pass failed or produced IR that does not verify; the input is unchanged."""

    def __init__(self, pass_name: str, diagnostics: list[Diagnostic], summary: str | None = None):
        self.pass_name = pass_name
        super().__init__(diagnostics, summary or f"pass '{pass_name}' failed: " + (diagnostics[0].message if diagnostics else ""))


class FrontendError(GraphsynthError):
    """A model could not be imported."""


def error(code: str, message: str, **kw) -> Diagnostic:
    return Diagnostic("error", code, message, **kw)


# -- the source-line store ---------------------------------------------------------------------
# Source text by file name, so that a diagnostic found after reading (by the verifier, a pass,
# the backend) can show its line.  The parser and the tools that read text put it here; any
# room that reports a located diagnostic reads it back.  Bounded: the oldest file goes first.

_SOURCES: dict[str, tuple[int, list[str]]] = {}
_MAX_SOURCES = 64


def remember_source(filename: str, text: str, first_line: int = 1) -> None:
    """Keep the lines of ``text`` for diagnostics located in ``filename``; ``text`` starts at
    line ``first_line`` of the file (a ``--split-input-file`` chunk is read on its own, its
    lines numbered as in the file, so that no chunk costs more than its own length)."""
    _SOURCES.pop(filename, None)
    if len(_SOURCES) >= _MAX_SOURCES:
        _SOURCES.pop(next(iter(_SOURCES)))
    rest = text.lstrip("\n")
    # Lines as the parsers count them: at "\n" only (str.splitlines also breaks at \u2028 and
    # other separators that are not line breaks of the grammar).  Leading blank lines are a count.
    blank = first_line - 1 + len(text) - len(rest)
    _SOURCES[filename] = (blank, [line.removesuffix("\r") for line in rest.split("\n")])


def source_line(loc: Location | None) -> str | None:
    """The text of the line ``loc`` points at, when its file was remembered."""
    if loc is None:
        return None
    kept = _SOURCES.get(loc.file)
    if kept is None:
        return None
    blank, lines = kept
    if 0 < loc.line <= blank:
        return ""
    if blank < loc.line <= blank + len(lines):
        return lines[loc.line - 1 - blank]
    return None
