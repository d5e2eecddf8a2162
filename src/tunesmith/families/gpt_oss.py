"""OpenAI gpt-oss (harmony format). No declarative template: rendered with the model's own template.

The harmony template (gpt-oss-120b in the shared corpus) cannot be written with the declarative spec:

* a system turn is always written and embeds today's date (``strftime_now``) and the reasoning effort;
  the conversation's system message becomes a separate ``developer`` turn (``# Instructions``) — the
  spec has neither a date-dependent system text nor two system-like turns;
* the final assistant turn ends with ``<|return|>`` while earlier ones end with ``<|end|>`` — the spec
  has one end-of-turn marker;
* reasoning is a separate ``<|channel|>analysis`` message rendered only on the final turn (or before a
  pending tool call), content goes to ``<|channel|>final``, and the generation prompt
  (``<|start|>assistant``) is shorter than the assistant header;
* tools are rendered as a TypeScript-like ``namespace functions``, calls as
  ``<|start|>assistant to=functions.NAME<|channel|>commentary json<|message|>…<|call|>`` and results as
  ``<|start|>functions.NAME to=assistant…`` turns.

So this family registers models and detection only; training and serving use the Jinja template the
model ships (tunesmith's default), which also learns the ``<|return|>`` stop as the official template
intends for training. To read tool calls out of replies, choose the ``gpt_oss`` tool format
(``template.tool_format: gpt_oss``): it reads the calls as the template writes them and as the models
write them (``<|channel|>commentary to=functions.NAME <|constrain|>json<|message|>…``).
"""

from tunesmith.families.spec import Catalog, Family, ModelGroup

FAMILY = Family(
    name="gpt_oss",
    model_types=("gpt_oss",),
    architectures=("GptOssForCausalLM",),
    groups=(
        ModelGroup("gpt-oss-20b", "openai/gpt-oss-20b", "openai-mirror/gpt-oss-20b"),
        ModelGroup("gpt-oss-120b", "openai/gpt-oss-120b", "openai-mirror/gpt-oss-120b"),
    ),
    notes=(
        "Harmony format: no declarative template can express it (dated system turn, <|return|> on the final "
        "turn only, analysis/final channels, TypeScript tool namespace). Always uses the model's own Jinja "
        "chat template. Tool calls: the 'gpt_oss' tool format."
    ),
)


def register(catalog: Catalog) -> None:
    catalog.add_family(FAMILY)
