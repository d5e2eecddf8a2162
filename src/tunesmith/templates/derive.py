"""Derive a declarative template from a model's own Jinja chat template.

Probe conversations with unique marker strings are rendered by the official template; the formats
are read off the differences (e.g. the user format is what one more user turn adds, with the marker
replaced by ``{content}``). The result is then checked over the conformance battery, shape by shape:
shapes it does not reproduce are reported as constructs that cannot be expressed declaratively (the
Jinja template is then used as is for those).
"""

from __future__ import annotations

import pprint
from dataclasses import dataclass, fields
from typing import Any

from tunesmith.templates.base import TemplateError
from tunesmith.templates.declarative import DeclarativeTemplate
from tunesmith.templates.jinja import JinjaTemplate

U1, U2, A1, A2, S1 = "Uq1z", "Uq2z", "Aq1z", "Aq2z", "Sq1z"


@dataclass(frozen=True)
class Derivation:
    template: DeclarativeTemplate | None
    passed: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]
    """(shape, reason) for every battery shape the derived template does not reproduce."""
    problem: str | None = None


def _render(t: JinjaTemplate, messages: list[dict[str, Any]], agp: bool = False) -> str:
    return t._raw(messages, None, agp, {})


def _between(text: str, head: str) -> str:
    if not text.startswith(head):
        raise TemplateError("probe renderings are not prefixes of each other")
    return text[len(head) :]


def derive_declarative(own: JinjaTemplate, name: str, tokens: dict[str, str]) -> DeclarativeTemplate:
    u = {"role": "user", "content": U1}
    a = {"role": "assistant", "content": A1}
    u2 = {"role": "user", "content": U2}
    a2 = {"role": "assistant", "content": A2}
    one = _render(own, [u])
    two = _render(own, [u, a])
    three = _render(own, [u, a, u2])
    four = _render(own, [u, a, u2, a2])
    gen = _between(_render(own, [u], True), one)
    assistant = _between(two, one)
    user = _between(three, two)
    if U2 not in user or A1 not in assistant:
        raise TemplateError("user or assistant content does not appear where expected")
    assistant2 = _between(four, three)
    if assistant2.replace(A2, A1) != assistant:
        raise TemplateError("the final assistant turn renders differently from earlier ones")
    user_fmt = user.replace(U2, "{content}")
    user1 = user_fmt.replace("{content}", U1)
    at = one.rfind(user1)
    if at < 0:
        raise TemplateError(
            "the first user turn renders differently from later ones (system or default text)"
        )
    head = one[:at]
    assistant_fmt = assistant.replace(A1, "{content}")
    header, _, end = assistant_fmt.partition("{content}")
    generation_prompt = gen if gen != header else None
    # the first turn may carry a default system prompt: compare with an explicit system turn
    default_system = None
    system_fmt = "{content}"
    prefix = head
    system_style = "turn"
    if head:
        bos = tokens.get("bos_token") or ""
        prefix = bos if bos and head.startswith(bos) else head
    try:
        with_sys = _render(own, [{"role": "system", "content": S1}, u])
    except Exception:
        with_sys = None
        system_style = "reject"
    if with_sys is not None:
        if with_sys.endswith(user1) and S1 in with_sys[: len(with_sys) - len(user1)]:
            sys_block = with_sys[: len(with_sys) - len(user1)]
            bos = tokens.get("bos_token") or ""
            common = 0
            while common < min(len(sys_block), len(head)) and sys_block[common] == head[common]:
                common += 1
            candidates = [
                bos if bos and sys_block.startswith(bos) and head.startswith(bos) else "",
                head[:common],
            ]
            for candidate in candidates:
                before, _, after = sys_block[len(candidate) :].partition(S1)
                rest = head[len(candidate) :]
                if not rest:
                    prefix, system_fmt = candidate, before + "{content}" + after
                    break
                if rest.startswith(before) and rest.endswith(after) and len(rest) >= len(before) + len(after):
                    prefix, system_fmt = candidate, before + "{content}" + after
                    default_system = rest[len(before) : len(rest) - len(after)]
                    break
            else:
                raise TemplateError(f"text before the first user turn cannot be explained: {head!r}")
        elif S1 in with_sys:
            system_style = "merge"
            merged = with_sys[len(head) :]
            merged_user = user_fmt.partition("{content}")
            inner = merged[len(merged_user[0]) : len(merged) - len(merged_user[2])]
            system_fmt = "{content}"
            merge = inner.replace(S1, "{system}").replace(U1, "{content}")
            return DeclarativeTemplate(
                name=name,
                prefix=prefix,
                user=user_fmt,
                assistant=assistant_fmt,
                generation_prompt=generation_prompt,
                system_style="merge",
                merge_system=merge,
                family="derived",
                tokens=tokens,
            )
    del end
    strip = False
    try:
        padded = _render(own, [{"role": "user", "content": "  " + U1 + " \n"}])
        strip = padded == one
    except Exception:
        pass
    alternate_error = None
    try:
        _render(own, [u, u2])
    except Exception as exc:
        alternate_error = str(exc) or "Conversation roles must alternate user/assistant/user/assistant/..."
    return DeclarativeTemplate(
        strip_content=strip,
        alternate_error=alternate_error,
        name=name,
        prefix=prefix,
        system=system_fmt,
        user=user_fmt,
        assistant=assistant_fmt,
        generation_prompt=generation_prompt,
        default_system=default_system,
        system_style=system_style,  # type: ignore[arg-type]
        family="derived",
        tokens=tokens,
    )


def derive(own: JinjaTemplate, tokenizer: Any, name: str) -> Derivation:
    from tunesmith.templates.conformance import run_battery

    tokens = {k: v for k, v in tokenizer.special_tokens_map.items() if isinstance(v, str)}
    try:
        template = derive_declarative(own, name, tokens)
    except Exception as exc:  # the official template may refuse a probe: then nothing can be derived
        return Derivation(None, (), (), f"cannot derive a declarative template: {exc}")
    results = run_battery(template, tokenizer)
    passed = tuple(r.shape for r in results if r.ok)
    failed = tuple((r.shape, r.detail) for r in results if not r.ok)
    return Derivation(template, passed, failed)


def template_source(template: DeclarativeTemplate, family: str) -> str:
    """``TEMPLATE = DeclarativeTemplate(...)`` for a plugin file: the fields that differ from the defaults
    (always ``name``; never ``tokens`` or ``metadata``), ``family`` set to ``family``."""
    defaults = {f.name: f.default for f in fields(DeclarativeTemplate)}
    kwargs = []
    for f in fields(DeclarativeTemplate):
        value = getattr(template, f.name)
        if f.name in ("tokens", "metadata") or (f.name != "name" and value == defaults.get(f.name)):
            continue
        if f.name == "family":
            value = family
        kwargs.append(f"    {f.name}={pprint.pformat(value, width=100)},")
    return "TEMPLATE = DeclarativeTemplate(\n" + "\n".join(kwargs) + "\n)\n\n"


def plugin_source(
    template: DeclarativeTemplate, *, family: str, unsupported: tuple[tuple[str, str], ...] = ()
) -> str:
    """A plugin file registering ``template`` in a family of its own (same shape as built-in families)."""
    note = ""
    if unsupported:
        lines = "\n".join(f"#   - {shape}: {why[:150]}" for shape, why in unsupported)
        note = (
            "# Shapes of the conformance battery this declarative template does not reproduce\n"
            "# (the model's own Jinja template is used for them):\n" + lines + "\n"
        )
    return (
        f'"""Plugin written by `tunesmith template derive`: family {family!r}, template {template.name!r}."""\n\n'
        "from tunesmith.families import DeclarativeTemplate, Family\n\n"
        f"{note}"
        f"{template_source(template, family)}"
        f"FAMILY = Family(name={family!r}, templates=(TEMPLATE,), default_template={template.name!r})\n\n\n"
        "def register(catalog):\n"
        "    catalog.add_family(FAMILY)\n"
    )
