"""The Jinja sandbox merge tags are filled in: Jinja's own sandbox, bounded in work.

Jinja's sandbox keeps a template away from Python's internals but not from using
all the memory and CPU there is (``{{ 'x' * 300000000 }}``).  :class:`BoundedSandbox`
also bounds what a template may make: operators (``*``, ``**``, ``+``, ``%``), calls,
filters, loops and joins refuse results longer than the render budget's output limit
before they build them; ``range()`` gives at most :data:`MAX_RANGE` numbers; macros
nest at most :data:`MAX_DEPTH` deep; and the clock is looked at in every loop step,
operator and call, so a template that takes longer than the time limit stops.  The
checks are cooperative (no signals, no threads): they work the same in the web app's
threads and in RQ workers.

Nothing is folded at compile time (Jinja would otherwise compute ``'x' * 300000000``
while compiling, outside any budget): everything runs through the checks at render.
"""

from __future__ import annotations

import functools
import re
import string
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator
from jinja2.compiler import Frame
from jinja2.runtime import markup_join
from jinja2.runtime import str_join
from jinja2.sandbox import UNSAFE_ASYNC_GENERATOR_ATTRIBUTES
from jinja2.sandbox import UNSAFE_COROUTINE_ATTRIBUTES
from jinja2.sandbox import UNSAFE_GENERATOR_ATTRIBUTES
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum
from jinja2.utils import pass_environment

#: ``range()`` in a merge tag gives at most this many numbers (Jinja's sandbox: 100,000).
MAX_RANGE = 10_000
#: Macros (and recursive loops) call one another at most this deep.
MAX_DEPTH = 40
#: Whole numbers stay below this many bits (about 3,000 digits).
MAX_INT_BITS = 10_000
#: Text made inside macros, ``{% set %}`` blocks and filters counts towards this many
#: times the output limit (it is counted again where it is output).
WORK_FACTOR = 4

INTERNAL_NAMES = frozenset(
    {"mro", "func_globals", "f_globals", "f_locals", "f_back", "f_code", "tb_frame", "tb_next"}
    | UNSAFE_GENERATOR_ATTRIBUTES
    | UNSAFE_COROUTINE_ATTRIBUTES
    | UNSAFE_ASYNC_GENERATOR_ATTRIBUTES
)

#: The methods of text a merge tag may call; growing ones are bounded in :meth:`BoundedSandbox.call`.
TEXT_METHODS = frozenset(
    {
        "capitalize", "casefold", "center", "count", "endswith", "escape", "find", "format",
        "format_map", "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit",
        "islower", "isnumeric", "isspace", "istitle", "isupper", "join", "ljust", "lower",
        "lstrip", "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex",
        "rjust", "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith",
        "strip", "striptags", "swapcase", "title", "unescape", "upper", "zfill",
    }
)  # fmt: skip

PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([diouxXeEfFgGcrsa%])")


class MergeError(ValueError):
    """A template that cannot be rendered; the message names the tag."""


class MergeLimit(MergeError):
    """A template that would need more than the render budget allows."""


class MergeTooLarge(MergeLimit):
    """The text (or a value on the way to it) would be longer than the output limit."""


class MergeTooSlow(MergeLimit):
    """Filling in the template would take longer than the time limit."""


class MergeTooDeep(MergeLimit):
    """Macros call one another (or themselves) too deeply."""


@dataclass(frozen=True)
class Limits:
    """The render budget of one template: at most ``max_output`` characters of text,
    in at most ``max_seconds`` of work."""

    max_output: int = 1_000_000
    max_seconds: float = 2.0


def size_words(characters: int) -> str:
    if characters >= 1_000_000 and characters % 1_000_000 == 0:
        return f"{characters // 1_000_000} MB"
    return f"{characters:,} characters"


def too_large(limits: Limits) -> MergeTooLarge:
    return MergeTooLarge(f"the merge tags make the text longer than {size_words(limits.max_output)}")


class Budget:
    """What one render has used so far; the sandbox's hooks charge it."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.max_seconds
        self.depth = 0
        self.made = 0
        self.breach: MergeLimit | None = None

    def fail(self, exc: MergeLimit) -> None:
        """Remember the first breach (a filter that catches errors cannot hide it)."""
        self.breach = self.breach or exc
        raise self.breach

    def tick(self) -> None:
        if self.breach is not None:
            raise self.breach
        if time.monotonic() > self.deadline:
            self.fail(
                MergeTooSlow(f"the merge tags take longer than {self.limits.max_seconds:g} s to fill in")
            )

    def room(self, size: int) -> None:
        """Refuse a value of ``size`` characters before it is made."""
        if size > self.limits.max_output:
            self.fail(too_large(self.limits))

    def made_text(self, size: int) -> None:
        self.made += size
        if self.made > WORK_FACTOR * self.limits.max_output:
            self.fail(too_large(self.limits))


_BUDGET: ContextVar[Budget | None] = ContextVar("superflow_merge_budget", default=None)


def current() -> Budget:
    """The budget of the render under way (outside one: a fresh default budget)."""
    return _BUDGET.get() or Budget(Limits())


def run(generate: Iterator[str], limits: Limits) -> str:
    """Consume a template's output under a fresh budget, counting as it streams."""
    budget = Budget(limits)
    token = _BUDGET.set(budget)
    try:
        parts: list[str] = []
        written = 0
        for chunk in generate:
            written += len(chunk)
            budget.room(written)
            budget.tick()
            parts.append(chunk)
        if budget.breach is not None:
            raise budget.breach
        return "".join(parts)
    finally:
        _BUDGET.reset(token)


def size_of(value: Any, cap: int) -> int:
    """About how many characters ``value`` is as text, counted up to ``cap``."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() * 3 // 10 + 1
    if isinstance(value, dict):
        value = [item for pair in value.items() for item in pair]
    if isinstance(value, list | tuple | set | frozenset | range):
        total = 2
        for item in value:
            total += size_of(item, cap - total) + 2
            if total > cap:
                break
        return total
    return 0


def _int_bits(value: Any) -> int:
    return abs(value).bit_length() if isinstance(value, int) else 0


def _sized(value: Any) -> bool:
    return isinstance(value, str | bytes | list | tuple)


def _check_repeat(budget: Budget, left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if _int_bits(left) + _int_bits(right) > MAX_INT_BITS:
            budget.fail(MergeTooLarge("the merge tags make too large a number"))
        return
    seq, times = (left, right) if _sized(left) else (right, left)
    if _sized(seq) and isinstance(times, int) and times > 0:
        budget.room(size_of(seq, budget.limits.max_output) * times)


def _check_power(budget: Budget, base: Any, exponent: Any) -> None:
    growing = isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1
    if growing and _int_bits(base) * exponent > MAX_INT_BITS:
        budget.fail(MergeTooLarge("the merge tags make too large a number"))


def _widest(values: Iterable[Any], budget: Budget) -> int:
    return max((size_of(v, budget.limits.max_output) for v in values), default=0)


def _values(args: Any) -> list[Any]:
    if isinstance(args, dict):
        return list(args.values())
    return list(args) if isinstance(args, tuple) else [args]


def check_percent(budget: Budget, template: str, args: Any) -> None:
    """``'%10s' % x`` and ``|format``: refuse a width or a result over the limit."""
    specs = PERCENT_SPEC.findall(template)
    widths = [int(n) for spec in specs for n in spec[:2] if n.isdigit()]
    if any(n == "*" for spec in specs for n in spec[:2]):
        budget.fail(MergeTooLarge("merge tags may not take a width from a value (*)"))
    width = max(widths, default=0)
    budget.room(width)
    budget.room(len(template) + len(specs) * (_widest(_values(args), budget) + width))


def check_braces(budget: Budget, template: str, values: list[Any]) -> None:
    """``'{:>10}'.format(x)``: refuse a width or a result over the limit."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return
    fields = [spec or "" for _, name, spec, _ in parsed if name is not None]
    if any("{" in spec for spec in fields):
        budget.fail(MergeTooLarge("merge tags may not take a width from a value ({})"))
    width = max((int(n) for spec in fields for n in re.findall(r"\d+", spec)), default=0)
    budget.room(width)
    budget.room(len(template) + len(fields) * (_widest(values, budget) + width))


def _check_text_method(budget: Budget, method: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Bound the methods of text that make longer text; the arguments to call with."""
    text, name, cap = method.__self__, method.__name__, budget.limits.max_output
    if name in ("center", "ljust", "rjust", "zfill") and args and isinstance(args[0], int):
        budget.room(max(len(text), args[0]))
    elif name == "join" and args:
        items = args[0] if isinstance(args[0], list | tuple) else list(args[0])
        budget.room(size_of(list(items), cap) + len(text) * len(items))
        return (items, *args[1:])
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        found = len(text) + 1 if not args[0] else text.count(args[0])
        if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
            found = min(found, args[2])
        budget.room(len(text) + found * max(0, len(args[1]) - len(args[0])))
    return args


def _text(value: Any, budget: Budget) -> int:
    return size_of(value, budget.limits.max_output)


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _bound_filter(
    name: str, budget: Budget, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    """Refuse, before it runs, a filter call whose result would be over the limit."""
    cap = budget.limits.max_output
    if name == "center":
        budget.room(max(_text(value, budget), _int(_arg(args, kwargs, 0, "width", 80))))
    elif name == "indent":
        width = _arg(args, kwargs, 0, "width", 4)
        prefix = len(width) if isinstance(width, str) else _int(width)
        lines = str(value).count("\n") + 1 if isinstance(value, str) else 1
        budget.room(_text(value, budget) + lines * prefix)
    elif name == "wordwrap":
        width = max(1, _int(_arg(args, kwargs, 0, "width", 79)))
        wrap = _arg(args, kwargs, 2, "wrapstring", None) or "\n"
        size = _text(value, budget)
        budget.room(size + (size // width + 1) * len(str(wrap)))
    elif name == "format" and isinstance(value, str):
        check_percent(budget, value, kwargs or tuple(args))
    elif name == "join":
        joiner = str(_arg(args, kwargs, 0, "d", ""))
        count = len(value) if isinstance(value, str | list | tuple) else 0
        budget.room(size_of(value, cap) + len(joiner) * count)
    elif name == "replace" and len(args) >= 2:
        text, old, new = str(value), str(args[0]), str(args[1])
        found = len(text) + 1 if not old else text.count(old)
        budget.room(len(text) + found * max(0, len(new) - len(old)))
    elif name in ("batch", "slice") and args and _int(args[0]) > MAX_RANGE:
        budget.fail(MergeTooLarge(f"{name}() may make at most {MAX_RANGE:,} groups in merge tags"))
    elif name in ("string", "pprint", "tojson", "list", "xmlattr", "urlize", "e", "escape", "forceescape"):
        budget.room(_text(value, budget))
    elif name == "sum":
        start = _arg(args, kwargs, 1, "start", 0)
        if _sized(start) or (isinstance(value, list | tuple) and any(_sized(v) for v in value)):
            budget.room(_text(value, budget) + _text(start, budget))


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _bounded(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` (a Jinja filter) with the budget charged before and after it runs."""
    passes = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        budget = current()
        budget.tick()
        if len(args) > passes:
            value = args[passes]
            if name == "join" and not isinstance(value, list | tuple | str):
                value = list(_ticking(value, budget))
                args = (*args[:passes], value, *args[passes + 1 :])
            _bound_filter(name, budget, value, args[passes + 1 :], kwargs)
        result = func(*args, **kwargs)
        if isinstance(result, str | list | tuple):
            size = _text(result, budget)
            budget.room(size)
            budget.made_text(size)
        return result

    return bounded


def _ticking(items: Iterable[Any], budget: Budget) -> Iterator[Any]:
    for item in items:
        budget.tick()
        yield item


def bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        current().fail(MergeTooLarge(f"range() may give at most {MAX_RANGE:,} numbers in merge tags"))
    return numbers


def bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002
    current().room(_int(n) * _int(max) * 12)
    return generate_lorem_ipsum(n, html, min, max)


@pass_environment
def _attr(environment: Any, obj: Any, name: Any) -> Any:
    """Jinja's ``attr`` filter, but what it names in a mapping is a key."""
    return environment.getattr(obj, str(name))


class BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator, but nothing is computed at compile time, ``~`` joins
    through :meth:`BoundedSandbox.bounded_concat` and every loop steps through
    :meth:`BoundedSandbox.bounded_iter`."""

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        if isinstance(node, nodes.TemplateData | nodes.Const):
            return super()._output_child_to_const(node, frame, finalize)
        raise nodes.Impossible()

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        escape = (
            "context.eval_ctx.autoescape"
            if frame.eval_ctx.volatile
            else repr(bool(frame.eval_ctx.autoescape))
        )
        self.write(f"environment.bounded_concat({escape}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        wrapped = isinstance(node.iter, nodes.Call) and isinstance(node.iter.node, nodes.EnvironmentAttribute)
        if not wrapped:
            node.iter = nodes.Call(
                nodes.EnvironmentAttribute("bounded_iter"),
                [node.iter],
                [],
                None,
                None,
                lineno=node.iter.lineno,
            )
        super().visit_For(node, frame)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with every way of making text, numbers and work bounded
    by the :class:`Budget` of the render under way.

    A mapping in the merge data is data, never a Python object: ``event.items``,
    ``event["items"]``, ``person.values`` and ``item|attr("count")`` mean its keys, at
    any depth, and a key it lacks is undefined (not the dict's method of that name)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = BoundedCodeGenerator

    def __init__(self, **options: Any) -> None:
        finalize = options.pop("finalize", None)
        super().__init__(optimized=False, finalize=self._finalizer(finalize), **options)
        self.globals["range"] = bounded_range
        self.globals["lipsum"] = bounded_lipsum
        self.filters = {name: _bounded(name, func) for name, func in self.filters.items()}
        self.filters["attr"] = _bounded("attr", _attr)

    @staticmethod
    def _finalizer(finalize: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
        def bounded(value: Any) -> Any:
            budget = current()
            size = size_of(value, budget.limits.max_output)
            budget.room(size)
            budget.made_text(size)
            return finalize(value) if finalize else value

        return bounded

    def add_filter(self, name: str, func: Callable[..., Any]) -> None:
        """Add a filter (e.g. ``date``) charged to the budget like Jinja's own."""
        self.filters[name] = _bounded(name, func)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            return self._key(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, Mapping):
            return self._key(obj, argument)
        return super().getitem(obj, argument)

    def _key(self, obj: Mapping[Any, Any], name: Any) -> Any:
        """``obj[name]``; a missing key is undefined, an internal name unsafe."""
        try:
            return obj[name]
        except (TypeError, LookupError):
            pass
        if isinstance(name, str) and (name.startswith("_") or name in INTERNAL_NAMES):
            return self.unsafe_undefined(obj, name)
        return self.undefined(obj=obj, name=name)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value) or attr in INTERNAL_NAMES:
            return False
        return attr in TEXT_METHODS if isinstance(obj, str) else True

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        budget = current()
        budget.tick()
        if operator == "*":
            _check_repeat(budget, left, right)
        elif operator == "**":
            _check_power(budget, left, right)
        elif operator == "+" and _sized(left) and _sized(right):
            cap = budget.limits.max_output
            budget.room(size_of(left, cap) + size_of(right, cap))
        elif operator == "%" and isinstance(left, str):
            check_percent(budget, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        budget = current()
        budget.tick()
        if isinstance(getattr(__obj, "__self__", None), str):
            args = _check_text_method(budget, __obj, args)
        budget.depth += 1
        try:
            if budget.depth > MAX_DEPTH:
                budget.fail(
                    MergeTooDeep(f"the merge tags call macros too deeply (more than {MAX_DEPTH} levels)")
                )
            return super().call(__context, __obj, *args, **kwargs)
        finally:
            budget.depth -= 1

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        template, by_name = value.__self__, value.__name__ == "format_map"

        @functools.wraps(wrapped)
        def bounded(*args: Any, **kwargs: Any) -> str:
            values = _values(args[0]) if by_name and args else [*args, *kwargs.values()]
            check_braces(current(), template, values)
            return wrapped(*args, **kwargs)

        return bounded

    def bounded_iter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """What a ``{% for %}`` steps through: each step looks at the clock."""
        return _ticking(iterable, current())

    def bounded_concat(self, escape: bool, pieces: tuple[Any, ...]) -> str:
        budget = current()
        budget.tick()
        size = sum(size_of(p, budget.limits.max_output) for p in pieces)
        budget.room(size)
        budget.made_text(size)
        return markup_join(pieces) if escape else str_join(pieces)

    def concat(self, parts: Iterable[str]) -> str:  # type: ignore[override]
        """What a macro, a ``{% set %}`` block or a ``{% filter %}`` block made, joined."""
        budget = current()
        parts = list(parts)
        size = sum(len(p) for p in parts)
        budget.room(size)
        budget.made_text(size)
        return "".join(parts)
