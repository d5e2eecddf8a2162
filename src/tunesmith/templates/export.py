"""Declarative template → Jinja chat template that ``apply_chat_template`` renders identically.

The generated template mirrors :meth:`DeclarativeTemplate.render` branch for branch; the round-trip
tests render every declarative template both ways over the conformance battery.
"""

from __future__ import annotations

import json
import re

from tunesmith.templates.declarative import DeclarativeTemplate

# Jinja for each tool format a declarative template may use: sets ``calls.t`` from ``m.tool_calls``.
_TOOL_CALL_JINJA = {
    "hermes": (
        "{%- for tc in m.tool_calls %}"
        "{%- set f = tc.function if tc.function is defined else tc %}"
        "{%- set args = f.arguments if f.arguments is string else f.arguments | tojson %}"
        "{%- set calls.t = calls.t + ('' if loop.first else '\\n') + '<tool_call>\\n{\"name\": \"' + f.name"
        " + '\", \"arguments\": ' + args + '}\\n</tool_call>' %}"
        "{%- endfor %}"
    ),
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


def declarative_to_jinja(t: DeclarativeTemplate) -> str:
    trim = " | trim" if t.strip_content else ""
    j: list[str] = []
    a = j.append
    # content of a message: a string, or parts with media placeholders
    a("{%- macro content_text(c) %}")
    a("{%- if c is string %}{{- c }}{%- else %}{%- for p in c %}")
    a("{%- if p.type == 'text' %}{{- p.text }}")
    for kind in ("image", "video", "audio"):
        token = getattr(t, f"{kind}_token")
        if token is not None:
            a(f"{{%- elif p.type == '{kind}' or p.type == '{kind}_url' %}}{{{{- {lit(token)} }}}}")
    a("{%- endif %}{%- endfor %}{%- endif %}")
    a("{%- endmacro %}")
    a("{%- set ns = namespace(system=none, offset=0, merge=none, last_query=-1, found=false) %}")
    a("{%- if messages and messages[0].role == 'system' %}")
    a(f"{{%- set ns.system = content_text(messages[0].content){trim} %}}{{%- set ns.offset = 1 %}}")
    a("{%- endif %}")
    if t.system_style == "reject":
        a(
            f"{{%- if ns.system is not none %}}{{{{- raise_exception({_fill(t.reject_system_message)}) }}}}{{%- endif %}}"
        )
    elif t.default_system is not None:
        a(f"{{%- if ns.system is none %}}{{%- set ns.system = {_fill(t.default_system)} %}}{{%- endif %}}")
    a("{%- if tools %}")
    if t.tools_system is None or t.tool_format is None:
        a(f"{{{{- raise_exception({lit(f'template {t.name} cannot render tool definitions')}) }}}}")
    else:
        a("{%- set tt = namespace(t='') %}")
        if t.tool_definitions == "json_lines":
            a("{%- for tool in tools %}{%- set tt.t = tt.t + '\\n' + (tool | tojson) %}{%- endfor %}")
        a(f"{{%- set sys_part = '' if ns.system is none else ns.system + {lit(t.tools_system_sep)} %}}")
        a(f"{{%- set ns.system = {_fill(t.tools_system, system='sys_part', tools='tt.t')} %}}")
    a("{%- endif %}")
    a("{%- set body = messages[ns.offset:] %}")
    a("{%- for m in body %}")
    if t.alternate_error:
        a(
            "{%- if (m.role == 'user') != (loop.index0 % 2 == 0) %}"
            f"{{{{- raise_exception({lit(t.alternate_error)}) }}}}{{%- endif %}}"
        )
    a(
        f"{{%- if m.role == 'system' %}}{{{{- raise_exception({lit('a system message is only allowed first')}) }}}}"
    )
    if t.tool_format is None:
        a(
            f"{{%- elif m.role == 'tool' %}}{{{{- raise_exception({lit(f'template {t.name} has no tool format')}) }}}}"
        )
    a("{%- endif %}")
    a("{%- endfor %}")
    if t.prefix:
        a(f"{{{{- {_fill(t.prefix)} }}}}")
    cond = "ns.system is not none" + (" and ns.system" if t.skip_empty_system else "")
    a(f"{{%- if {cond} %}}")
    if t.system_style == "merge":
        a("{%- set ns.merge = ns.system %}")
    else:
        a(f"{{{{- {_fill(t.system, content='ns.system')} }}}}")
    a("{%- endif %}")
    r = t.reasoning
    if r is not None and r.keep != "all":
        if r.keep == "none":
            a("{%- set ns.last_query = body | length %}")
        else:
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
    a("{%- if m.role == 'user' %}")
    a(f"{{%- set text = content_text(m.content){trim} %}}")
    if t.system_style == "merge":
        a(
            "{%- if ns.merge is not none %}"
            f"{{%- set text = {_fill(t.merge_system, system='ns.merge', content='text')} %}}"
            "{%- set ns.merge = none %}{%- endif %}"
        )
    a(f"{{{{- {_fill(t.user, content='text')} }}}}")
    a("{%- elif m.role == 'assistant' %}")
    if t.assistant_header:
        a(f"{{{{- {_fill(t.assistant_header)} }}}}")
    a(f"{{%- set content = content_text(m.content){trim} %}}")
    if r is not None:
        a("{%- if m.reasoning_content is string %}{%- set reasoning = m.reasoning_content %}")
        a("{%- else %}{%- set reasoning = '' %}")
        if r.split_content:
            a(
                "{%- if '</think>' in content %}"
                "{%- set reasoning = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}"
                "{%- set content = content.split('</think>')[-1].lstrip('\\n') %}"
                "{%- endif %}"
            )
        a("{%- endif %}")
        last = "(loop.last and true)" if r.block_on_last else "false"
        rs = "reasoning.strip('\\n')" if r.strip else "reasoning"
        cs = "content.lstrip('\\n')" if r.strip else "content"
        a(
            f"{{%- if i > ns.last_query and ({last} or reasoning) %}}"
            f"{{%- set content = {lit(r.open)} + {rs} + {lit(r.close)} + {cs} %}}{{%- endif %}}"
        )
    a("{%- if m.tool_calls %}")
    snippet = _TOOL_CALL_JINJA.get(t.tool_format or "")
    if snippet is None:
        a(f"{{{{- raise_exception({lit(f'template {t.name} cannot render tool calls')}) }}}}")
    else:
        a("{%- set calls = namespace(t='') %}")
        a(snippet)
        a(f"{{%- set content = content + {lit(t.tool_call_separator)} + calls.t if content else calls.t %}}")
    a("{%- endif %}")
    a(f"{{{{- content + {_fill(t.assistant_end)} }}}}")
    a("{%- elif m.role == 'tool' %}")
    if t.tool_group:
        a(
            f"{{%- if loop.first or body[i - 1].role != 'tool' %}}{{{{- {_fill(t.tool_group[0])} }}}}{{%- endif %}}"
        )
    a(f"{{{{- {_fill(t.tool, content='content_text(m.content)' + trim)} }}}}")
    if t.tool_group:
        a(
            f"{{%- if loop.last or body[i + 1].role != 'tool' %}}{{{{- {_fill(t.tool_group[1])} }}}}{{%- endif %}}"
        )
    a("{%- endif %}")
    a("{%- endfor %}")
    if t.system_style == "merge":
        a(f"{{%- if ns.merge is not none %}}{{{{- {_fill(t.system, content='ns.merge')} }}}}{{%- endif %}}")
    a("{%- if add_generation_prompt %}")
    a(f"{{{{- {_fill(t.generation_header)} }}}}")
    if r is not None:
        a(
            "{%- if enable_thinking is defined and enable_thinking is false %}"
            f"{{{{- {lit(r.off_generation)} }}}}{{%- endif %}}"
        )
    if t.suffix:
        a(f"{{%- else %}}{{{{- {_fill(t.suffix)} }}}}")
    a("{%- endif %}")
    return "\n".join(j) + "\n"
