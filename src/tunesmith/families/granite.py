"""IBM Granite 3.x: ``<|start_of_role|>role<|end_of_role|>content<|end_of_text|>`` turns.

Conformance against the shared corpus (template x battery shape):

* ``granite3`` vs granite-3_0-2b-instruct (its reference): every battery shape. With tools, the
  definitions are an ``available_tools`` turn *before* the system turn (each tool ``tojson(indent=4)``,
  joined by a blank line). As the official template, ``tool`` messages are dropped (it only knows a
  ``tool_response`` role) and so are tool calls (an assistant message with calls keeps only its text) —
  a data-loss warning for tool data, repeated in the template's notes. Generated calls are read with the
  ``granite`` tool format (``<|tool_call|>[{"name": ..., "arguments": {...}}]``).
* granite-3_3-2b-instruct: without a system message the official template writes a default system prompt
  that embeds today's date (``strftime_now('%B %d, %Y')``), so every shape without a system message
  differs — the spec has no date-dependent default system. No declarative template is registered for
  3.3; its groups fall back to ``granite3`` (identical whenever the data carries a system prompt).
"""

from tunesmith.families.spec import Catalog, Family, ModelGroup
from tunesmith.templates.declarative import DeclarativeTemplate, ToolSnippets

_TURN = "<|start_of_role|>{role}<|end_of_role|>{{content}}<|end_of_text|>\n"

_DEFINITIONS = """
{%- for tool in tools %}
    {{- tool | tojson(indent=4) }}
    {%- if not loop.last %}
        {{- '\n\n' }}
    {%- endif %}
{%- endfor %}"""

GRANITE3 = DeclarativeTemplate(
    name="granite3",
    system=_TURN.format(role="system"),
    user=_TURN.format(role="user"),
    assistant=_TURN.format(role="assistant"),
    tool="",
    tool_format="granite",
    tools_block="<|start_of_role|>available_tools<|end_of_role|>\n{tools}<|end_of_text|>\n",
    snippets=ToolSnippets(definitions=_DEFINITIONS, calls="{{- content }}"),
    stop_words=("<|end_of_text|>",),
    family="granite",
    notes=(
        "Granite 3.0 / 3.1 turns (no BOS, no default system); matches granite-3.0-2b-instruct on the whole "
        "conformance battery. With tools, the definitions are an 'available_tools' turn before the system "
        "turn. WARNING, data loss with tool data: as the official Granite 3.0 template, tool calls are not "
        "written (an assistant message with calls keeps only its text) and 'tool' messages are dropped, so "
        "the model is not trained on calls or results. For tool data use the model's own chat template, or "
        "a newer Granite whose template writes them. Generated calls are read with the 'granite' tool "
        "format (<|tool_call|>[...]). Granite 3.2 / 3.3 add a dated default system prompt when none is "
        "given, which this template does not write."
    ),
)

FAMILY = Family(
    name="granite",
    templates=(GRANITE3,),
    default_template="granite3",
    model_types=("granite",),
    architectures=("GraniteForCausalLM",),
    references={"granite3": "granite-3_0-2b-instruct"},
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
        "granite3 matches granite-3.0-2b-instruct on the whole battery, including its loss of tool calls and "
        "tool results; granite-3.3 differs (dated default system prompt, tool turns), so the model's own "
        "Jinja template — tunesmith's default whenever the model ships one — is preferred, and it is the one "
        "to use for tool data; granite3 is the declarative fallback."
    ),
)


def register(catalog: Catalog) -> None:
    catalog.add_family(FAMILY)
