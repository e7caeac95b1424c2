"""What list pages share: the query parameters a page passes on to its API list unchanged."""

from starlette.requests import Request


def passed_on(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    """This page's filters, sort and cursor that the API takes under the same names."""
    return {name: request.query_params[name] for name in names if request.query_params.get(name)}
