"""The pure rules: entitlement ids and status, expiry notices, CSV orders."""

from datetime import date

from entitlements.domain.entitlements import effective_status, entitlement_id_for, repeated
from entitlements.domain.expiry import notices_due
from entitlements.domain.orders import group_orders

TODAY = date(2026, 6, 15)


def test_entitlement_ids_carry_the_order_year_and_a_padded_number():
    assert entitlement_id_for(date(2026, 1, 2), 42) == "ENT-2026-000042"
    assert entitlement_id_for(date(2031, 1, 2), 1_234_567) == "ENT-2031-1234567"


def test_an_entitlement_is_valid_through_its_expiration_date():
    assert effective_status("active", TODAY, TODAY) == "active"
    assert effective_status("active", date(2026, 6, 14), TODAY) == "expired"
    assert effective_status("suspended", None, TODAY) == "suspended"
    assert repeated(["a", "b", "a", "c", "b"]) == ["a", "b"]


def test_expiring_soon_thresholds_reached():
    expires = date(2026, 7, 15)  # 30 days after TODAY
    assert notices_due(expires, date(2026, 6, 14)) == []
    assert notices_due(expires, TODAY) == [30]
    assert notices_due(expires, date(2026, 7, 10)) == [30, 7]
    assert notices_due(expires, expires) == [30, 7, 1]
    assert notices_due(expires, date(2026, 7, 16)) == []


def test_csv_rows_group_into_orders_and_a_bad_row_keeps_its_whole_order_out():
    def row(sales_order, product, quantity, po="PO"):
        return {"sales_order": sales_order, "po_number": po, "order_date": "2026-01-01", "expiration_date": "",
                "distributor_id": "d", "product_id": product, "quantity": quantity}

    orders, problems = group_orders(enumerate([
        row("A", "p1", "1"), row("B", "p1", "2"), row("A", "p2", "3"),
        row("C", "p1", "1"), row("C", "p2", "x"),
        row("D", "p1", "1"), row("D", "p2", "1", po="other"),
        {"sales_order": "", "quantity": "1"},
    ], start=2))
    assert [(o.sales_order, o.lines, [l["quantity"] for l in o.body["lines"]]) for o in orders] == [
        ("A", [2, 4], [1, 3]), ("B", [3], [2])]
    assert orders[0].body["expiration_date"] is None
    assert orders[0].idempotency_key == group_orders([(2, row("A", "p9", "9"))])[0][0].idempotency_key
    assert [(p.line, p.message.split(":")[0]) for p in problems] == [
        (5, "sales order C not imported"), (6, "quantity 'x' is not a whole number"),
        (7, "sales order D not imported"), (8, "order fields differ from line 7 of the same sales order"),
        (9, "missing sales_order, order_date, distributor_id, product_id"),
    ]
