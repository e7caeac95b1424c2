"""A refused form: the API's answer turned into one message per form field (from the 422's
`errors`, located by the body path such as `representatives.1.email`) and a message for the
whole form (a rule that spans fields, a conflict, a refusal)."""

from dataclasses import dataclass, field

import httpx

from gateway.portal.api_client import problem_detail

# Pydantic prefixes the messages of our own validators; people do not need to read it.
_PREFIXES = ("Value error, ", "Assertion failed, ")


@dataclass
class FormErrors:
    fields: dict[str, str] = field(default_factory=dict)
    form: str | None = None

    def __bool__(self) -> bool:
        return bool(self.fields or self.form)


def form_errors(answer: httpx.Response) -> FormErrors:
    """What to show next to the fields of a refused form, and above it."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    located = body.get("errors") if isinstance(body, dict) and answer.status_code == 422 else None
    if not isinstance(located, list) or not located:
        return FormErrors(form=problem_detail(answer))
    errors = FormErrors()
    unplaced = []
    for error in located:
        path = [str(part) for part in error.get("loc", []) if part != "body"]
        message = _readable(str(error.get("msg", "")))
        if path:
            errors.fields.setdefault(".".join(path), message)
        else:
            unplaced.append(message)
    errors.form = "; ".join(unplaced) if unplaced else "Some fields need correcting: see the messages below them."
    return errors


def _readable(message: str) -> str:
    for prefix in _PREFIXES:
        message = message.removeprefix(prefix)
    return message[:1].upper() + message[1:]
