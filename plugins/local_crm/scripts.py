"""Scripts the local CRM gives the "run script" step: numbers about a person's sales,
written to a number field of the person."""

from __future__ import annotations

from typing import Any

from superflow import CrmError
from superflow import Script
from superflow import Services


def _number(arguments: dict[str, Any], key: str, default: float) -> float:
    value = arguments.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"argument {key!r} must be a number, not {value!r}")
    return value


def _sales(services: Services, person: dict[str, Any], arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """The person's sales, only those in ``arguments["stages"]`` when given."""
    list_sales = getattr(services.crm, "list_sales", None)
    if list_sales is None:
        raise CrmError(f"the CRM backend {services.crm.name!r} cannot list a person's sales")
    stages = arguments.get("stages")
    if stages is not None and (not isinstance(stages, list) or not all(isinstance(s, str) for s in stages)):
        raise ValueError(f"argument 'stages' must be a list of stage names, not {stages!r}")
    return [sale for sale in list_sales(person["id"]) if not stages or sale["stage"] in stages]


def _write(services: Services, person: dict[str, Any], field: Any, value: float) -> str:
    """Set a number field of the person; say what happened.  The value is absolute, so
    writing it again after a crash is harmless."""
    known = {f.key: f for f in services.crm.list_fields() if f.entity == "person"}
    if not isinstance(field, str) or field not in known or known[field].type != "number":
        return f"not written: the CRM has no number field {field!r}"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    (changed,) = services.crm.update_persons([(person["id"], {field: value}, None)])
    return f"{field} set to {value}" if changed else f"{field} already {value}"


class RecalculateScore(Script):
    name = "recalculate_score"
    label = "Recalculate score from sales"
    description = (
        "Sets a number field (score) to the number of the person's sales times the points per sale "
        '(10). Arguments: {"field": "score", "points_per_sale": 10, "stages": ["won"]} (all optional).'
    )

    def run(
        self, person: dict[str, Any], participant: Any, services: Services, arguments: dict[str, Any]
    ) -> str:
        per_sale = _number(arguments, "points_per_sale", 10)
        sales = _sales(services, person, arguments)
        written = _write(services, person, arguments.get("field", "score"), len(sales) * per_sale)
        return f"{written} ({len(sales)} sale{'' if len(sales) == 1 else 's'})"


class TotalSales(Script):
    name = "total_sales"
    label = "Total of the person's sales"
    description = (
        "Sets a number field (sales_total) to the sum of the amounts of the person's sales. "
        'Arguments: {"field": "sales_total", "stages": ["won"]} (all optional).'
    )

    def run(
        self, person: dict[str, Any], participant: Any, services: Services, arguments: dict[str, Any]
    ) -> str:
        sales = _sales(services, person, arguments)
        total = round(sum(sale["amount"] or 0 for sale in sales), 2)
        written = _write(services, person, arguments.get("field", "sales_total"), total)
        return f"{written} ({len(sales)} sale{'' if len(sales) == 1 else 's'})"
