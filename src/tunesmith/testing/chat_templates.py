"""Default chat templates of the tiny models, one per family, in each family's official format.

Written for this package (not copied from model repositories) so that what they render matches the
official templates in the common cases: system/user/assistant turns, generation prompt, tools, tool
results and (Qwen3) reasoning. Special tokens are spelled literally so that a reader, and
:func:`tunesmith.testing.template_tokenizers.template_special_strings`, can see them. Raw strings:
``\\n`` inside a Jinja string literal is Jinja's newline escape.
"""

from __future__ import annotations

_QWEN_TOOLS = r"""
{{- '# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>' }}
{%- for tool in tools %}{{- '\n' + (tool | tojson) }}{%- endfor %}
{{- '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' }}
"""

_QWEN_TOOL_RESULT = r"""
{%- elif message.role == 'tool' %}
{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}
{{- '\n<tool_response>\n' + message.content + '\n</tool_response>' }}
{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\n' }}{%- endif %}
{%- endif %}
{%- endfor %}
"""

_QWEN_CALL = r"""
{%- set call = tool_call.function if tool_call.function is defined else tool_call %}
{{- '<tool_call>\n{"name": "' + call.name + '", "arguments": ' }}
{%- if call.arguments is string %}{{- call.arguments }}{%- else %}{{- call.arguments | tojson }}{%- endif %}
{{- '}\n</tool_call>' }}
"""

QWEN2_TEMPLATE = (
    r"""
{%- set has_system = messages and messages[0].role == 'system' %}
{%- set system = messages[0].content if has_system else 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' %}
{%- if tools %}
{{- '<|im_start|>system\n' + system + '\n\n' }}"""
    + _QWEN_TOOLS
    + r"""
{%- else %}
{{- '<|im_start|>system\n' + system + '<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
{%- if message.role == 'system' and loop.first %}
{%- elif message.role in ('user', 'system') or (message.role == 'assistant' and not message.tool_calls) %}
{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
{%- elif message.role == 'assistant' %}
{{- '<|im_start|>assistant' }}
{%- if message.content %}{{- '\n' + message.content }}{%- endif %}
{%- for tool_call in message.tool_calls %}
{{- '\n' }}"""
    + _QWEN_CALL
    + r"""
{%- endfor %}
{{- '<|im_end|>\n' }}"""
    + _QWEN_TOOL_RESULT
    + r"""
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}
"""
).strip("\n")
"""Qwen2.5 (ChatML) with its default system prompt and Hermes-style tool calls."""

QWEN3_TEMPLATE = (
    r"""
{%- set has_system = messages and messages[0].role == 'system' %}
{%- if tools %}
{{- '<|im_start|>system\n' + (messages[0].content + '\n\n' if has_system else '') }}"""
    + _QWEN_TOOLS
    + r"""
{%- elif has_system %}
{{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
{%- endif %}
{%- set ns = namespace(last_query_index=messages | length - 1, found=false) %}
{%- for message in messages[::-1] %}
{%- set index = (messages | length - 1) - loop.index0 %}
{%- if not ns.found and message.role == 'user' and message.content is string and not (message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
{%- set ns.found = true %}
{%- set ns.last_query_index = index %}
{%- endif %}
{%- endfor %}
{%- for message in messages %}
{%- set content = message.content if message.content is string else '' %}
{%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}
{{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>\n' }}
{%- elif message.role == 'assistant' %}
{%- set reasoning = '' %}
{%- if message.reasoning_content is string %}
{%- set reasoning = message.reasoning_content %}
{%- elif '</think>' in content %}
{%- set reasoning = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
{%- set content = content.split('</think>')[-1].lstrip('\n') %}
{%- endif %}
{%- if loop.index0 > ns.last_query_index and (loop.last or reasoning) %}
{{- '<|im_start|>assistant\n<think>\n' + reasoning.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
{%- else %}
{{- '<|im_start|>assistant\n' + content }}
{%- endif %}
{%- for tool_call in message.tool_calls or [] %}
{%- if content or not loop.first %}{{- '\n' }}{%- endif %}"""
    + _QWEN_CALL
    + r"""
{%- endfor %}
{{- '<|im_end|>\n' }}"""
    + _QWEN_TOOL_RESULT
    + r"""
{%- if add_generation_prompt %}
{{- '<|im_start|>assistant\n' }}
{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\n\n</think>\n\n' }}{%- endif %}
{%- endif %}
"""
).strip("\n")
"""Qwen3 (ChatML, no default system): reasoning shown after the last user query, dropped before it;
``enable_thinking=False`` prefills an empty think block."""

LLAMA3_TEMPLATE = r"""
{{- bos_token }}
{%- set has_system = messages and messages[0].role == 'system' %}
{%- if has_system or tools %}
{{- '<|start_header_id|>system<|end_header_id|>\n\n' }}
{%- if tools %}
{{- 'You have access to the following functions. To call a function, please respond with JSON for a function call. Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}. Do not use variables.\n\n' }}
{%- for tool in tools %}{{- (tool | tojson(indent=4)) + '\n\n' }}{%- endfor %}
{%- endif %}
{{- (messages[0].content | trim if has_system else '') + '<|eot_id|>' }}
{%- endif %}
{%- for message in messages %}
{%- if message.role == 'system' and loop.first %}
{%- elif message.role == 'assistant' and message.tool_calls %}
{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- for tool_call in message.tool_calls %}
{%- set call = tool_call.function if tool_call.function is defined else tool_call %}
{{- '{"name": "' + call.name + '", "parameters": ' + (call.arguments | tojson) + '}' }}
{%- endfor %}
{{- '<|eot_id|>' }}
{%- else %}
{%- set role = 'ipython' if message.role == 'tool' else message.role %}
{%- set content = message.content if message.content is string else message.content | tojson %}
{{- '<|start_header_id|>' + role + '<|end_header_id|>\n\n' + content | trim + '<|eot_id|>' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif %}
""".strip("\n")
"""Llama 3 header style (contents trimmed, as Meta's template does), Llama 3.1 JSON tool calls under
the ``ipython`` role."""

MISTRAL_TEMPLATE = r"""
{%- set has_system = messages and messages[0].role == 'system' %}
{%- set loop_messages = messages[1:] if has_system else messages %}
{%- set ns = namespace(last_user=-1) %}
{%- for message in loop_messages %}{%- if message.role == 'user' %}{%- set ns.last_user = loop.index0 %}{%- endif %}{%- endfor %}
{{- bos_token }}
{%- for message in loop_messages %}
{%- if message.role == 'user' %}
{%- if tools and loop.index0 == ns.last_user %}{{- '[AVAILABLE_TOOLS] ' + (tools | tojson) + '[/AVAILABLE_TOOLS]' }}{%- endif %}
{%- if has_system and loop.index0 == ns.last_user %}
{{- '[INST] ' + messages[0].content + '\n\n' + message.content + '[/INST]' }}
{%- else %}
{{- '[INST] ' + message.content + '[/INST]' }}
{%- endif %}
{%- elif message.role == 'assistant' and message.tool_calls %}
{{- '[TOOL_CALLS] [' }}
{%- for tool_call in message.tool_calls %}
{%- set call = tool_call.function if tool_call.function is defined else tool_call %}
{{- '{"name": "' + call.name + '", "arguments": ' + (call.arguments | tojson) + '}' + (', ' if not loop.last else '') }}
{%- endfor %}
{{- ']' + eos_token }}
{%- elif message.role == 'assistant' %}
{{- ' ' + message.content + eos_token }}
{%- elif message.role == 'tool' %}
{{- '[TOOL_RESULTS] {"content": ' + (message.content | tojson) + '}[/TOOL_RESULTS]' }}
{%- else %}
{{- raise_exception('Only user, assistant and tool roles are supported, with an optional system message first.') }}
{%- endif %}
{%- endfor %}
""".strip("\n")
"""Mistral v0.3 style: ``[INST] … [/INST]``, the system prompt folded into the last user turn, tools
before the last user turn. Like Mistral's, there is no generation prompt: a prompt ends at ``[/INST]``."""

GEMMA_TEMPLATE = r"""
{{- bos_token }}
{%- set has_system = messages and messages[0].role == 'system' %}
{%- set first_user_prefix = messages[0].content + '\n\n' if has_system else '' %}
{%- set loop_messages = messages[1:] if has_system else messages %}
{%- for message in loop_messages %}
{%- if (message.role == 'user') != (loop.index0 % 2 == 0) %}
{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
{%- endif %}
{%- set role = 'model' if message.role == 'assistant' else message.role %}
{{- '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') + message.content | trim + '<end_of_turn>\n' }}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<start_of_turn>model\n' }}{%- endif %}
""".strip("\n")
"""Gemma 3 turn style: ``model`` for the assistant, the system prompt folded into the first user turn,
contents trimmed, strict alternation."""

PHI3_TEMPLATE = r"""
{%- for message in messages %}
{%- if message.role == 'system' and message.content %}
{{- '<|system|>\n' + message.content + '<|end|>\n' }}
{%- elif message.role == 'user' %}
{{- '<|user|>\n' + message.content + '<|end|>\n' }}
{%- elif message.role == 'assistant' %}
{{- '<|assistant|>\n' + message.content + '<|end|>\n' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|assistant|>\n' }}{%- endif %}
""".strip("\n")
"""Phi-3.5 style. Unlike Microsoft's, no ``eos_token`` is appended when there is no generation prompt
(that quirk makes the last assistant turn end differently from earlier ones)."""
