"""Declarative template → Jinja chat template that ``apply_chat_template`` renders identically.

The generated template mirrors :meth:`DeclarativeTemplate.render` branch for branch; the round-trip
tests render every declarative template both ways over the conformance battery.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

from tunesmith.templates.declarative import DeclarativeTemplate

_ARGS = (
    "{%- set f = tc.function if tc.function is defined else tc %}"
    "{%- set args = f.arguments if f.arguments is string else f.arguments | tojson %}"
)
# Jinja for each tool format a declarative template may use: sets ``calls.t`` from ``m.tool_calls``.
_TOOL_CALL_JINJA = {
    "hermes": (
        "{%- for tc in m.tool_calls %}" + _ARGS + "{%- set calls.t = calls.t + ('' if loop.first else '\\n')"
        " + '<tool_call>\\n{\"name\": \"' + f.name + '\", \"arguments\": ' + args + '}\\n</tool_call>' %}"
        "{%- endfor %}"
    ),
    "llama3": (
        "{%- for tc in m.tool_calls %}" + _ARGS + "{%- set calls.t = calls.t + ('' if loop.first else ', ')"
        " + '{\"name\": \"' + f.name + '\", \"parameters\": ' + args + '}' %}"
        "{%- endfor %}"
        "{%- if m.tool_calls | length > 1 %}{%- set calls.t = '[' + calls.t + ']' %}{%- endif %}"
    ),
}
_TOOL_CALL_JINJA["qwen"] = _TOOL_CALL_JINJA["hermes"]

_TOOLS_JINJA = {
    "json_lines": "{%- for tool in tools %}{%- set tt.t = tt.t + '\\n' + (tool | tojson) %}{%- endfor %}",
    "json_indent4": (
        "{%- for tool in tools %}{%- set tt.t = tt.t + (tool | tojson(indent=4)) + '\\n\\n' %}{%- endfor %}"
    ),
    "none": "",
}


def lit(text: str) -> str:
    """A Jinja string literal for ``text`` (ASCII-escaped, so any character survives)."""
    return json.dumps(text, ensure_ascii=True)


def _fill(fmt: str, **exprs: str) -> str:
    """Turn a format with ``{name}`` placeholders into a Jinja concatenation expression
    (``{bos_token}``/``{eos_token}`` become the template variables of the same name)."""
    exprs = {"bos_token": "bos_token", "eos_token": "eos_token", **exprs}
    names = "|".join(re.escape("{" + n + "}") for n in exprs)
    out: list[str] = []
    pos = 0
    for m in re.finditer(names, fmt):
        if m.start() > pos:
            out.append(lit(fmt[pos : m.start()]))
        out.append("(" + exprs[m.group(0)[1:-1]] + ")")
        pos = m.end()
    if pos < len(fmt) or not out:
        out.append(lit(fmt[pos:]))
    return " + ".join(out)


def _raise(message: str) -> str:
    return f"{{{{- raise_exception({lit(message)}) }}}}"


def declarative_to_jinja(t: DeclarativeTemplate) -> str:
    if t.thinking_off is not None:
        return (
            "{%- if enable_thinking is defined and enable_thinking is false %}\n"
            + declarative_to_jinja(t.thinking_off)
            + "{%- else %}\n"
            + declarative_to_jinja(replace(t, thinking_off=None))
            + "{%- endif %}\n"
        )
    j: list[str] = []
    a = j.append

    def trim(role: str) -> str:
        return _trim(t, role)

    _content_macro(t, a)
    if t.snippets is not None:
        a(t.snippets.source())
        a(f"{{%- set ts_state = {t.snippets.state_literal()} %}}")
    a(
        "{%- set ns = namespace(system=none, offset=0, merge=none, ftools=none, last_query=-1, found=false,"
        " block=none, block_at=-1) %}"
    )
    if any(
        "{date}" in (s or "")
        for s in (t.default_system, t.tools_default_system, t.system_content, t.tools_system)
    ):
        default = lit(t.default_date) if t.default_date is not None else f"strftime_now({lit(t.date_format)})"
        a(
            f"{{%- if date_string is defined %}}{{%- set date = date_string %}}{{%- else %}}{{%- set date = {default} %}}"
        )
        a("{%- endif %}")
    a("{%- if messages and messages[0].role == 'system' %}")
    a(f"{{%- set ns.system = content_text(messages[0].content){trim('system')} %}}{{%- set ns.offset = 1 %}}")
    if t.empty_system_default:
        a("{%- if not ns.system %}{%- set ns.system = none %}{%- endif %}")
    for flag in t.system_refuse:
        a(
            f"{{%- if ns.system and {lit(flag)} in ns.system %}}{_raise(f'{flag} in the system prompt switches modes')}{{%- endif %}}"
        )
    a("{%- endif %}")
    if t.system_style == "reject":
        a(f"{{%- if ns.system is not none %}}{_raise(t.reject_system_message)}{{%- endif %}}")
    elif t.system_style == "drop":
        a("{%- set ns.system = none %}")
    elif t.default_system is not None:
        a(
            f"{{%- if ns.system is none{'' if t.default_system_with_tools else ' and not tools'} %}}"
            f"{{%- set ns.system = {_fill(t.default_system, date='date')} %}}{{%- endif %}}"
        )
    if t.tools_default_system is not None and t.system_style != "reject":
        a(
            "{%- if ns.system is none and tools %}"
            f"{{%- set ns.system = {_fill(t.tools_default_system, date='date')} %}}{{%- endif %}}"
        )
    _tools_block(t, a)
    a("{%- set body = messages[ns.offset:] %}")
    _checks(t, a)
    if t.prefix:
        a(f"{{{{- {_fill(t.prefix)} }}}}")
    if t.tools_block is not None and t.tools_block_at == "start":
        a("{%- if ns.block is not none %}{{- ns.block }}{%- endif %}")
    elif t.tools_block is not None and t.tools_block_at == "last_user":
        a(
            "{%- for m in body %}{%- if m.role == 'user' %}{%- set ns.block_at = loop.index0 %}{%- endif %}{%- endfor %}"
        )
    cond = "ns.system is not none" + (" and ns.system" if t.skip_empty_system else "")
    a(f"{{%- if {cond} %}}")
    if t.system_style in ("merge", "merge_last"):
        a("{%- set ns.merge = ns.system %}")
    else:
        a(f"{{{{- {_fill(t.system, content='ns.system')} }}}}")
    a("{%- endif %}")
    if t.tools_block is not None and t.tools_block_at == "after_system":
        a("{%- if ns.block is not none %}{{- ns.block }}{%- endif %}")
    r = t.reasoning
    if r is not None and r.keep == "none":
        a("{%- set ns.last_query = body | length %}")
    elif r is not None and r.keep == "after_last_query":
        a("{%- set ns.last_query = body | length - 1 %}")
        a("{%- for m in body[::-1] %}")
        a(
            "{%- set text = content_text(m.content) %}"
            "{%- if not ns.found and m.role == 'user' and not (text.startswith("
            f"{lit(r.tool_response_prefix)}) and text.endswith({lit(r.tool_response_suffix)})) %}}"
            "{%- set ns.last_query = body | length - 1 - loop.index0 %}{%- set ns.found = true %}{%- endif %}"
        )
        a("{%- endfor %}")
    a("{%- for m in body %}")
    a("{%- set i = loop.index0 %}")
    if t.drop_empty_messages:
        calls = "false" if t.ignores_tools else "m.tool_calls"
        a(
            f"{{%- if not content_text(m.content){trim('assistant')} and not {calls} %}}{{%- continue %}}{{%- endif %}}"
        )
    if t.tools_block is not None and t.tools_block_at == "last_user":
        a("{%- if i == ns.block_at and ns.block is not none %}{{- ns.block }}{%- endif %}")
    a("{%- if m.role == 'user' %}")
    a(f"{{%- set text = content_text(m.content){'' if t.strip_merged else trim('user')} %}}")
    if t.tools_in_first_user is not None:
        a(
            "{%- if ns.ftools is not none %}"
            f"{{%- set text = {_fill(t.tools_in_first_user, tools='ns.ftools', content='text')} %}}"
            "{%- set ns.ftools = none %}{%- endif %}"
        )
    if t.system_style in ("merge", "merge_last"):
        a(
            "{%- if ns.merge is not none"
            + (" and loop.last" if t.system_style == "merge_last" else "")
            + " %}"
            f"{{%- set text = {_fill(t.merge_system, system='ns.merge', content='text')} %}}"
            "{%- set ns.merge = none %}{%- endif %}"
        )
    if t.strip_merged:
        a("{%- set text = text | trim %}")
    a(f"{{{{- {_fill(t.user, content='text')} }}}}")
    a("{%- elif m.role == 'system' %}")
    if t.system_style == "drop":
        a("{%- continue %}")
    a(f"{{%- set text = content_text(m.content){trim('system')} %}}")
    a(
        f"{{%- if text{'' if t.skip_empty_system else ' or true'} %}}{{{{- {_fill(t.system, content='text')} }}}}"
    )
    a("{%- endif %}")
    a("{%- elif m.role == 'assistant' %}")
    if t.snippets is not None and t.snippets.has("header"):
        a("{{- ts_header(m, i, body, tools, ts_state) }}")
    elif t.assistant_header:
        a(f"{{{{- {_fill(t.assistant_header)} }}}}")
    a(f"{{%- set content = content_text(m.content){trim('assistant')} %}}")
    if r is not None:
        _reasoning(t, a)
    if t.tool_format is not None and t.snippets is not None and t.snippets.has("calls"):
        a(
            "{%- if m.tool_calls %}{%- set content = ts_calls(m, content, i, body, tools, ts_state) %}{%- endif %}"
        )
    elif t.tool_format is not None:
        a("{%- if m.tool_calls %}")
        snippet = _TOOL_CALL_JINJA.get(t.tool_format)
        if snippet is None:
            a(_raise(f"template {t.name} cannot render {t.tool_format} tool calls in Jinja"))
        else:
            if t.tool_call_content == "drop":
                a("{%- set content = '' %}")
            a("{%- set calls = namespace(t='') %}")
            a(snippet)
            a(
                f"{{%- set content = content + {lit(t.tool_call_separator)} + calls.t if content else calls.t %}}"
            )
        a("{%- endif %}")
    if t.snippets is not None and t.snippets.has("end"):
        a("{{- content + ts_end(m, i, body, tools, ts_state) }}")
    else:
        a(f"{{{{- content + {_fill(t.assistant_end)} }}}}")
    a("{%- elif m.role == 'tool' %}")
    if t.snippets is not None and t.snippets.has("tool"):
        a("{{- ts_tool(m, i, body, tools, ts_state) }}")
    else:
        _tool_result(t, a)
    a("{%- endif %}")
    a("{%- endfor %}")
    a("{%- if add_generation_prompt %}")
    if t.snippets is not None and t.snippets.has("generation"):
        a("{{- ts_generation(body, tools, ts_state) }}")
    else:
        a(f"{{{{- {_fill(t.generation_header)} }}}}")
    if r is not None:
        a(
            "{%- if enable_thinking is defined and enable_thinking is false %}"
            f"{{{{- {lit(r.off_generation)} }}}}{{%- endif %}}"
        )
    if t.snippets is not None and t.snippets.has("suffix"):
        a("{%- else %}{{- ts_suffix(body, tools, ts_state) }}")
    elif t.suffix:
        a(f"{{%- else %}}{{{{- {_fill(t.suffix)} }}}}")
    a("{%- endif %}")
    return "\n".join(j) + "\n"


def _trim(t: DeclarativeTemplate, role: str) -> str:
    """The Jinja suffix that trims a role's content as :meth:`DeclarativeTemplate._text` does."""
    if t.strips(role):
        return " | trim"
    partial = t.partial_strip.get(role)
    return {"rstrip": ".rstrip()", "lstrip_newlines": ".lstrip('\\n')"}.get(partial or "", "")


def _tool_result(t: DeclarativeTemplate, a) -> None:
    trim = _trim(t, "tool")
    if t.tool_group:
        a(
            f"{{%- if loop.first or body[i - 1].role != 'tool' %}}{{{{- {_fill(t.tool_group[0])} }}}}{{%- endif %}}"
        )
    result = "(m.content | tojson)" if t.tool_content_json else "content_text(m.content)" + trim
    a(f"{{{{- {_fill(t.tool, content=result)} }}}}")
    if t.tool_group:
        a(
            f"{{%- if loop.last or body[i + 1].role != 'tool' %}}{{{{- {_fill(t.tool_group[1])} }}}}{{%- endif %}}"
        )


def _content_macro(t: DeclarativeTemplate, a) -> None:
    """content of a message: a string, or parts with media placeholders."""
    a("{%- macro content_text(c) %}")
    a("{%- if c is string %}{{- c }}{%- else %}{%- for p in c %}")
    a("{%- if p.type == 'text' %}{{- p.text }}")
    for kind in ("image", "video", "audio"):
        token = getattr(t, f"{kind}_token")
        if token is not None:
            a(f"{{%- elif p.type == '{kind}' or p.type == '{kind}_url' %}}{{{{- {lit(token)} }}}}")
    a(f"{{%- else %}}{_raise(f'template {t.name} has no placeholder for this part type')}")
    a("{%- endif %}{%- endfor %}{%- endif %}")
    a("{%- endmacro %}")


def _tools_block(t: DeclarativeTemplate, a) -> None:
    """The system text with tools (or the plain system content), and the first-user tool text."""
    plain = t.system_content != "{system}"
    set_plain = f"{{%- set ns.system = {_fill(t.system_content, system='ns.system', date='date')} %}}"
    if t.ignores_tools:
        if plain:
            a(f"{{%- if ns.system is not none %}}{set_plain}{{%- endif %}}")
        return
    a("{%- if tools %}")
    if t.tool_format is None or (t.tools_system is None and t.tools_block is None):
        a(_raise(f"template {t.name} cannot render tool definitions"))
    else:
        a("{%- set tt = namespace(t='') %}")
        if t.snippets is not None and t.snippets.has("definitions"):
            a("{%- set tt.t = ts_definitions(tools) %}")
        else:
            a(_TOOLS_JINJA[t.tool_definitions])
        if t.tools_system is not None:
            part = _fill(t.tools_system_part, system="ns.system")
            a(f"{{%- set sys_part = '' if ns.system is none else {part} + {lit(t.tools_system_sep)} %}}")
            in_system = "''" if t.tools_in_first_user is not None or t.tools_block is not None else "tt.t"
            a(
                f"{{%- set ns.system = {_fill(t.tools_system, system='sys_part', tools=in_system, date='date')} %}}"
            )
        elif plain:
            a(f"{{%- if ns.system is not none %}}{set_plain}{{%- endif %}}")
        if t.tools_in_first_user is not None:
            a("{%- set ns.ftools = tt.t %}")
        if t.tools_block is not None:
            a(f"{{%- set ns.block = {_fill(t.tools_block, tools='tt.t')} %}}")
    if plain:
        a(f"{{%- elif ns.system is not none %}}{set_plain}")
    a("{%- endif %}")


def _checks(t: DeclarativeTemplate, a) -> None:
    """The inputs render() refuses, refused the same way."""
    a("{%- set alt = namespace(n=0) %}")
    a("{%- for m in body %}")
    if t.alternate_error and t.alternate_skips_tools:
        a(
            "{%- if not (m.role == 'tool' or m.tool_calls) %}"
            f"{{%- if (m.role == 'user') != (alt.n % 2 == 0) %}}{_raise(t.alternate_error)}{{%- endif %}}"
            "{%- set alt.n = alt.n + 1 %}{%- endif %}"
        )
    elif t.alternate_error:
        a(
            f"{{%- if (m.role == 'user') != (loop.index0 % 2 == 0) %}}{_raise(t.alternate_error)}{{%- endif %}}"
        )
    if not t.inner_system and t.system_style != "drop":
        a(f"{{%- if m.role == 'system' %}}{_raise('a system message is only allowed first')}{{%- endif %}}")
    if t.tool_format is None and t.without_tools == "raise":
        a(
            f"{{%- if m.role == 'tool' or m.tool_calls %}}{_raise(f'template {t.name} has no tool format')}{{%- endif %}}"
        )
    if t.single_tool_call_error and t.tool_format is not None:
        a(
            "{%- if m.role == 'assistant' and m.tool_calls and m.tool_calls | length != 1 %}"
            f"{_raise(t.single_tool_call_error)}{{%- endif %}}"
        )
    a("{%- endfor %}")
    if t.tools_in_first_user is not None and not t.ignores_tools:
        a(
            "{%- if tools and (not body or body[0].role != 'user') %}"
            f"{_raise('tool definitions go in the first user message; there is none')}{{%- endif %}}"
        )


def _reasoning(t: DeclarativeTemplate, a) -> None:
    r = t.reasoning
    assert r is not None
    field = "m.reasoning_content is string" if r.from_field else "false"
    a(f"{{%- if {field} %}}{{%- set reasoning = m.reasoning_content %}}")
    a("{%- else %}{%- set reasoning = '' %}")
    if r.split_content and r.keep != "last_message":
        a(
            "{%- if '</think>' in content %}"
            "{%- set reasoning = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}"
            "{%- set content = content.split('</think>')[-1].lstrip('\\n') %}"
            "{%- endif %}"
        )
    a("{%- endif %}")
    if r.keep == "last_message":
        a(
            "{%- if not loop.last %}{%- set content = content.split('</think>')[-1].lstrip('\\n') %}"
            "{%- set reasoning = '' %}{%- endif %}"
        )
        kept = "loop.last"
    else:
        kept = "i > ns.last_query"
    last = "(loop.last and true)" if r.block_on_last else "false"
    rs = "reasoning.strip('\\n')" if r.strip else "reasoning"
    cs = "content.lstrip('\\n')" if r.strip else "content"
    a(
        f"{{%- if {kept} and ({last} or reasoning) %}}"
        f"{{%- set content = {lit(r.open)} + {rs} + {lit(r.close)} + {cs} %}}{{%- endif %}}"
    )
