"""IBM Granite 3.x: ``<|start_of_role|>role<|end_of_role|>content<|end_of_text|>`` turns.

Conformance against the shared corpus (template x battery shape):

* ``granite3`` vs granite-3_0-2b-instruct: every shape passes except ``tools`` and ``parallel_tools``.
  The official template writes the tool definitions as a separate ``available_tools`` turn *before* the
  system turn (``tojson(indent=4)``), drops ``tool`` messages (it only knows ``tool_response``) and drops
  tool calls; the spec's ``tools_system`` lives inside the system turn, so tool shapes are refused.
* granite-3_3-2b-instruct: without a system message the official template writes a default system prompt
  that embeds today's date (``strftime_now('%B %d, %Y')``), so every shape without a system message
  differs — the spec has no date-dependent default system. No declarative template is registered for
  3.3; its groups fall back to ``granite3`` (identical whenever the data carries a system prompt).
"""

from tunesmith.families.spec import Catalog, Family, ModelGroup
from tunesmith.templates.declarative import DeclarativeTemplate

_TURN = "<|start_of_role|>{role}<|end_of_role|>{{content}}<|end_of_text|>\n"

GRANITE3 = DeclarativeTemplate(
    name="granite3",
    system=_TURN.format(role="system"),
    user=_TURN.format(role="user"),
    assistant=_TURN.format(role="assistant"),
    stop_words=("<|end_of_text|>",),
    family="granite",
    notes=(
        "Granite 3.0 / 3.1 turns (no BOS, no default system). Matches granite-3.0-2b-instruct on every shape "
        "but the tool shapes. Granite 3.2 / 3.3 add a dated default system prompt when none is given, which "
        "this template does not write."
    ),
)

FAMILY = Family(
    name="granite",
    templates=(GRANITE3,),
    default_template="granite3",
    model_types=("granite",),
    architectures=("GraniteForCausalLM",),
    groups=(
        ModelGroup(
            "granite-3.0-2b-instruct",
            "ibm-granite/granite-3.0-2b-instruct",
            "AI-ModelScope/granite-3.0-2b-instruct",
            "granite3",
        ),
        ModelGroup("granite-3.3-2b-instruct", "ibm-granite/granite-3.3-2b-instruct", None, "granite3"),
    ),
    notes=(
        "granite3 does not match the official templates on the whole battery (tools; for 3.3 also the dated "
        "default system prompt), so the model's own Jinja template — tunesmith's default whenever the model "
        "ships one — is preferred; granite3 is the declarative fallback."
    ),
)


def register(catalog: Catalog) -> None:
    catalog.add_family(FAMILY)
