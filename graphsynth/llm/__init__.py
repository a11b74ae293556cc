"""The LLM rewrite driver: proposals as edits of the text IR, judged by the parser and verifier.

    from graphsynth.llm import rewrite, AnthropicProposer, ReplayProposer
    result = rewrite(module, "replace every relu with gelu", AnthropicProposer(), attempts=4,
                     transcript="session.jsonl")
    print(result.summary())

Nothing a model writes is executed: a reply is split into lines and spliced into the graph text;
the parser, the verifier and the goal's checks decide.  Heavy imports (the SDK, torch) happen only
when the proposer or the semantics check needs them.
"""

from graphsynth.llm.driver import Attempt, AttemptJudge, Judgement, RewriteResult, rewrite, summary_table
from graphsynth.llm.edits import EditError, Offer
from graphsynth.llm.menu import MenuItem, activation_swaps, individual_rewrites, menu_source
from graphsynth.llm.prompt import FEEDBACK_STYLES, Goal
from graphsynth.llm.proposer import (
    AnthropicProposer,
    Proposal,
    ProposalRequest,
    Proposer,
    ProposerConfigError,
    ProposerError,
    ReplayProposer,
    Usage,
    make_proposer,
)
from graphsynth.llm.replay import replay_main, replay_transcript

__all__ = [
    "FEEDBACK_STYLES",
    "AnthropicProposer",
    "Attempt",
    "AttemptJudge",
    "EditError",
    "Goal",
    "Judgement",
    "MenuItem",
    "Offer",
    "Proposal",
    "ProposalRequest",
    "Proposer",
    "ProposerConfigError",
    "ProposerError",
    "ReplayProposer",
    "RewriteResult",
    "Usage",
    "activation_swaps",
    "individual_rewrites",
    "make_proposer",
    "menu_source",
    "replay_main",
    "replay_transcript",
    "rewrite",
    "summary_table",
]
