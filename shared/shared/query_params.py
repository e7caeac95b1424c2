"""Query parameters: one value per scalar parameter, and parameter classes built on the event loop.

FastAPI reads `?limit=5&limit=500` as its last value, so a filter or a bound given twice would be
half ignored without a word: refused here (an app-wide dependency, after routing); list parameters
(`?columns=a&columns=b`) may repeat as before."""

import inspect
import types
import typing
from collections.abc import Awaitable, Callable, Iterator, Sequence

from fastapi import Request
from fastapi.dependencies.models import Dependant

from shared.problems import Problem

T = typing.TypeVar("T")
_SEQUENCE_ORIGINS = (list, tuple, set, frozenset, Sequence)
_NAMES = "_scalar_query_names"  # kept on the route itself (routes are not hashable), worked out once


async def refuse_repeated_scalar_parameters(request: Request) -> None:
    route = request.scope.get("route")
    if route is None or b"&" not in request.scope.get("query_string", b""):
        return  # one parameter at most: nothing can repeat
    repeated = sorted(name for name in _scalar_query_names(route) if len(request.query_params.getlist(name)) > 1)
    if repeated:
        raise Problem(422, f"Query parameter {', '.join(repeated)} given more than once; it takes one value.")


def _scalar_query_names(route) -> frozenset[str]:
    names = getattr(route, _NAMES, None)
    if names is None:
        names = frozenset(field.alias for field in _query_fields(route.dependant)
                          if not takes_repeated_values(field.field_info.annotation))
        setattr(route, _NAMES, names)
    return names


def _query_fields(dependant: Dependant) -> Iterator:
    yield from dependant.query_params
    for dependency in dependant.dependencies:
        yield from _query_fields(dependency)


def takes_repeated_values(annotation) -> bool:
    """list[str], list[str] | None, Annotated[list[str], ...]: any of them takes repeated values."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return takes_repeated_values(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(takes_repeated_values(argument) for argument in typing.get_args(annotation))
    return isinstance(origin, type) and issubclass(origin, _SEQUENCE_ORIGINS)


def on_the_loop(parameters: type[T]) -> Callable[..., Awaitable[T]]:
    """A dataclass of query parameters as a dependency that FastAPI calls on the event loop:
    `Depends(SomeQuery)` on a class runs its constructor in the thread pool, a thread hop per
    request for a constructor that never blocks."""

    async def build(**values) -> T:
        return parameters(**values)

    build.__signature__ = inspect.signature(parameters)
    build.__qualname__ = build.__name__ = f"{parameters.__name__}_parameters"
    return build
