"""Cohere: Command R / R+ and Aya (``cohere``), Command R7B (``cohere2``).

Conformance against the shared corpus (template x battery shape):

* ``cohere`` passes the whole battery against c4ai-command-r-plus (its reference), and also against
  aya-expanse-8b and aya-23-35b (same default template). Tool shapes: the official ``tool_use`` template
  refuses the battery's OpenAI-style tool definitions (it reads ``tool.description`` at top level), and
  we refuse tools too — both reject. As the official template, user and assistant content are stripped
  and the system prompt is not.
* ``cohere2`` vs c4ai-command-r7b-12-2024: every shape passes except ``tools`` and ``parallel_tools`` —
  with tools the official template switches to a long tool-use preamble, ``<|START_THINKING|>`` /
  ``<|START_ACTION|>`` calls numbered across the conversation and JSON tool-result turns, none of which
  the spec can express.
"""

from tunesmith.families.spec import Catalog, Family, ModelGroup
from tunesmith.templates.declarative import DeclarativeTemplate

_ALTERNATE = "Conversation roles must alternate user/assistant/user/assistant/..."
_TURNS = dict(
    prefix="{bos_token}",
    system="<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>{content}<|END_OF_TURN_TOKEN|>",
    user="<|START_OF_TURN_TOKEN|><|USER_TOKEN|>{content}<|END_OF_TURN_TOKEN|>",
    strip_content=("user", "assistant"),
    alternate_error=_ALTERNATE,
    stop_words=("<|END_OF_TURN_TOKEN|>",),
    family="cohere",
)

COHERE = DeclarativeTemplate(
    name="cohere",
    assistant="<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>{content}<|END_OF_TURN_TOKEN|>",
    notes=(
        "Command R / R+ and Aya default template. User and assistant content are stripped; roles must "
        "alternate. Passes the whole conformance battery against c4ai-command-r-plus."
    ),
    **_TURNS,
)

COHERE2 = DeclarativeTemplate(
    name="cohere2",
    assistant=(
        "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|><|START_RESPONSE|>{content}<|END_RESPONSE|><|END_OF_TURN_TOKEN|>"
    ),
    default_system="",
    notes=(
        "Command R7B default template (no tools, no documents): a system turn is always written (empty when "
        "no system prompt is given) and replies are wrapped in <|START_RESPONSE|>…<|END_RESPONSE|>. Tools and "
        "documents need the model's own template."
    ),
    **_TURNS,
)

FAMILY = Family(
    name="cohere",
    templates=(COHERE, COHERE2),
    default_template="cohere",
    model_types=("cohere", "cohere2"),
    architectures=("CohereForCausalLM", "Cohere2ForCausalLM"),
    references={"cohere": "c4ai-command-r-plus"},
    groups=(
        ModelGroup(
            "c4ai-command-r-plus",
            "CohereForAI/c4ai-command-r-plus",
            "AI-ModelScope/c4ai-command-r-plus",
            "cohere",
        ),
        ModelGroup("c4ai-command-r7b-12-2024", "CohereForAI/c4ai-command-r7b-12-2024", None, "cohere2"),
        ModelGroup("aya-expanse-8b", "CohereForAI/aya-expanse-8b", "AI-ModelScope/aya-expanse-8b", "cohere"),
        ModelGroup("aya-23-35B", "CohereForAI/aya-23-35B", None, "cohere"),
    ),
    notes=(
        "cohere matches the official default template on the whole battery. cohere2 (Command R7B) does not "
        "render tools or documents, so for those the model's own Jinja template — tunesmith's default whenever "
        "the model ships one — is preferred."
    ),
)


def register(catalog: Catalog) -> None:
    catalog.add_family(FAMILY)
