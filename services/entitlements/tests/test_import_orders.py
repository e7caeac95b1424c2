"""The CSV order import, run as its command line against the service over real HTTP."""

import asyncio
import uuid

import sqlalchemy as sa

from entitlements.import_orders import main
from shared.testing import serving


async def entitlements_of(app, sales_orders: list[str]) -> dict[str, list[tuple[str, int]]]:
    async with app.state.engine.connect() as conn:
        rows = (await conn.execute(sa.text(
            "SELECT e.sales_order, p.name, l.quantity FROM entitlements e"
            " JOIN entitlement_lines l ON l.entitlement_id = e.id JOIN products p ON p.id = l.product_id"
            " WHERE e.sales_order = ANY(:orders) ORDER BY e.sales_order, p.name"), {"orders": sales_orders})).all()
    found: dict[str, list[tuple[str, int]]] = {}
    for sales_order, name, quantity in rows:
        found.setdefault(sales_order, []).append((name, quantity))
    return found


async def test_orders_are_imported_once_and_bad_lines_are_reported_by_number(app, licensing, tmp_path, capsys,
                                                                             issue_token):
    camera, door = await licensing.product("Camera"), await licensing.product("Door")
    tag = uuid.uuid4().hex[:6]
    first, second, broken, unknown = (f"SO-{tag}-{n}" for n in (1, 2, 3, 4))
    distributor = licensing.orgs.distributor
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "sales_order,po_number,order_date,expiration_date,distributor_id,product_id,quantity\n"
        f"{first},PO-1,2026-04-01,2027-04-01,{distributor},{camera['id']},10\n"  # line 2
        f"{first},PO-1,2026-04-01,2027-04-01,{distributor},{door['id']},5\n"  # line 3
        f"{second},,2026-04-02,,{distributor},{camera['id']},1\n"  # line 4
        f"{broken},PO-3,2026-04-03,2027-04-03,{distributor},{camera['id']},many\n"  # line 5
        f"{unknown},PO-4,2026-04-04,2027-04-04,{distributor},{uuid.UUID(int=5)},2\n"  # line 6
    )
    token = issue_token(org=str(licensing.orgs.vendor), tier="vendor", role="admin")
    async with serving(app) as url:
        status = await asyncio.to_thread(main, [str(orders), "--url", url, "--token", token])
        assert status == 1
        out, err = capsys.readouterr()
        assert "2 of 3 orders imported" in out
        assert "3/3 orders" in err
        assert "line 5: quantity 'many' is not a whole number" in err
        assert f"line 6: sales order {unknown}: 422 No product with id {uuid.UUID(int=5)}" in err
        imported = await entitlements_of(app, [first, second, broken, unknown])
        assert imported == {first: [("Camera", 10), ("Door", 5)], second: [("Camera", 1)]}

        again = await asyncio.to_thread(main, [str(orders), "--url", url, "--token", token])
        assert again == 1
        assert "2 of 3 orders imported (or already there)" in capsys.readouterr().out
        assert await entitlements_of(app, [first, second]) == imported  # nothing twice

        refused = await asyncio.to_thread(main, [str(orders), "--url", url, "--token",
                                                 issue_token(org=str(distributor), tier="distributor")])
        assert refused == 1 and "403" in capsys.readouterr().err
    await licensing.conserved()


async def test_a_file_without_the_needed_columns_imports_nothing(app, tmp_path, capsys, issue_token):
    orders = tmp_path / "orders.csv"
    orders.write_text("sales_order,quantity\nSO-1,3\n")
    async with serving(app) as url:
        status = await asyncio.to_thread(main, [str(orders), "--url", url, "--token", issue_token(tier="vendor")])
    assert status == 1
    assert "line 1: the header lacks column(s): order_date, distributor_id, product_id" in capsys.readouterr().err
