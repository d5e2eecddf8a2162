"""Nous Hermes: Hermes-2-Pro (Llama-3 / Mistral) and Hermes-3 (Llama-3.1): BOS + ChatML.

Hermes models share the ``llama`` / ``mistral`` model types with their base models, so this family
claims no model type; pick the groups by name.

Conformance against the shared corpus (template x battery shape). The models ship two named templates:
``default`` (used without tools) and ``tool_use`` (used with ``tools=``).

* ``hermes`` vs hermes-2-pro-llama-3-8b and hermes-2-pro-mistral-7b, ``hermes3`` vs
  hermes-3-llama-3_1-70b: every shape passes except ``tools`` and ``parallel_tools``. The ``tool_use``
  template writes each tool definition as a Python-style signature with an ``Args:`` list inside a fixed
  system prompt (the spec's ``tool_definitions`` only knows JSON lines), always before any system
  message of the conversation (the spec merges the two into one system turn), and closes a tool-result
  turn with ``<|im_end|>`` without a newline. Tool calls themselves (``<tool_call>`` JSON) would match
  the ``hermes`` tool format, but without expressible definitions tool shapes are refused.
"""

from tunesmith.families.spec import Catalog, Family, ModelGroup
from tunesmith.templates.declarative import DeclarativeTemplate

_CHATML = dict(
    prefix="{bos_token}",
    system="<|im_start|>system\n{content}<|im_end|>\n",
    user="<|im_start|>user\n{content}<|im_end|>\n",
    assistant="<|im_start|>assistant\n{content}<|im_end|>\n",
    stop_words=("<|im_end|>",),
    family="hermes",
)

HERMES = DeclarativeTemplate(
    name="hermes",
    notes="Hermes-2-Pro default template: BOS + ChatML, no default system prompt. Matches it on every shape "
    "but the tool shapes (tool use needs the model's tool_use template).",
    **_CHATML,
)

HERMES3 = DeclarativeTemplate(
    name="hermes3",
    default_system="You are a helpful assistant.",
    notes="Hermes-3 default template: BOS + ChatML with a default system prompt. Matches it on every shape "
    "but the tool shapes (tool use needs the model's tool_use template).",
    **_CHATML,
)

FAMILY = Family(
    name="hermes",
    templates=(HERMES, HERMES3),
    default_template="hermes3",
    groups=(
        ModelGroup("Hermes-2-Pro-Llama-3-8B", "NousResearch/Hermes-2-Pro-Llama-3-8B", None, "hermes"),
        ModelGroup("Hermes-2-Pro-Mistral-7B", "NousResearch/Hermes-2-Pro-Mistral-7B", None, "hermes"),
        ModelGroup("Hermes-3-Llama-3.1-8B", "NousResearch/Hermes-3-Llama-3.1-8B", None, "hermes3"),
        ModelGroup("Hermes-3-Llama-3.1-70B", "NousResearch/Hermes-3-Llama-3.1-70B", None, "hermes3"),
    ),
    notes=(
        "The declarative templates match the models' default templates but not their tool_use templates, so "
        "the model's own Jinja template — tunesmith's default whenever the model ships one — is preferred, "
        "and is required for tool-calling data."
    ),
)


def register(catalog: Catalog) -> None:
    catalog.add_family(FAMILY)
