"""The create-integrator (or customer) form as typed so far: company fields and 1 to 5
representative rows, one of them the default. Rows are added and removed by the form's own
submit buttons, so the form works the same with and without script; the API checks the rules."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

COMPANY_FIELDS = ("name", "email_domain", "address", "country", "phone", "contact_name", "contact_email", "tax_id")
REPRESENTATIVE_FIELDS = ("email", "first_name", "last_name", "phone")
MAX_REPRESENTATIVES = 5  # the product's limit; the API enforces it too


def blank_representative() -> dict[str, str]:
    return dict.fromkeys(REPRESENTATIVE_FIELDS, "")


@dataclass
class PartnerDraft:
    company: dict[str, str] = field(default_factory=lambda: dict.fromkeys(COMPANY_FIELDS, ""))
    representatives: list[dict[str, str]] = field(default_factory=lambda: [blank_representative()])
    default: int = 0

    @classmethod
    def from_form(cls, form: FormData) -> "PartnerDraft":
        """Representative inputs repeat their names (rep_email, rep_email, ...) in row order."""
        company = {name: str(form.get(name, "")).strip() for name in COMPANY_FIELDS}
        columns = {name: [str(v).strip() for v in form.getlist(f"rep_{name}")] for name in REPRESENTATIVE_FIELDS}
        rows = max(1, *(len(values) for values in columns.values()))
        representatives = [
            {name: values[i] if i < len(values) else "" for name, values in columns.items()} for i in range(rows)
        ]
        try:
            default = int(str(form.get("default", "0")))
        except ValueError:
            default = 0
        return cls(company, representatives, default if 0 <= default < rows else 0)

    @property
    def can_add(self) -> bool:
        return len(self.representatives) < MAX_REPRESENTATIVES

    def add_representative(self) -> None:
        if self.can_add:
            self.representatives.append(blank_representative())

    def remove_representative(self, index: int) -> None:
        """The default stays with its person; removing the default makes the first row default."""
        if len(self.representatives) <= 1 or not 0 <= index < len(self.representatives):
            return
        del self.representatives[index]
        if self.default == index:
            self.default = 0
        elif self.default > index:
            self.default -= 1

    def api_body(self) -> dict[str, Any]:
        """The POST body: blank optional fields left out rather than sent as empty text."""
        return {
            **_filled(self.company),
            "representatives": [
                {**_filled(rep), "email": rep["email"], "is_default": i == self.default}
                for i, rep in enumerate(self.representatives)
            ],
        }


def _filled(values: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in values.items() if value}
