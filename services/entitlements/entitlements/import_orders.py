"""Imports orders from a CSV file as entitlements, through the public API.

    python -m entitlements.import_orders orders.csv --url http://127.0.0.1:8000 --token <access token>
    python -m entitlements.import_orders orders.csv --email admin@example.com --password ...

Columns: sales_order, po_number, order_date, expiration_date, distributor_id, product_id, quantity.
Rows with the same sales_order form one entitlement. Each is posted with an Idempotency-Key made
from its sales order, so running the import again creates nothing twice. Problems are reported
by line number; the exit status is 1 when any order was not imported.
"""

import argparse
import csv
import sys
from dataclasses import dataclass, field

import httpx

from entitlements.domain.orders import LineProblem, Order, group_orders, missing_columns


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)  # entitlement ids, new or replayed
    problems: list[LineProblem] = field(default_factory=list)


def read_orders(path: str) -> tuple[list[Order], list[LineProblem]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = missing_columns(reader.fieldnames)
        if missing:
            return [], [LineProblem(1, f"the header lacks column(s): {', '.join(missing)}")]
        # reader.line_num is the file line where the row ended (1 is the header).
        return group_orders((reader.line_num, row) for row in reader)


def sign_in(client: httpx.Client, email: str, password: str) -> str:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    if response.status_code != 200:
        raise SystemExit(f"sign-in failed ({response.status_code}): {_detail(response)}")
    return response.json()["access_token"]


def import_orders(client: httpx.Client, orders: list[Order], progress=None) -> ImportReport:
    report = ImportReport()
    for done, order in enumerate(orders, start=1):
        try:
            response = client.post("/api/v1/entitlements", json=order.body,
                                   headers={"Idempotency-Key": order.idempotency_key})
        except httpx.HTTPError as error:
            report.problems.append(LineProblem(order.first_line, f"sales order {order.sales_order}: {error!r}"))
        else:
            if response.status_code == 201:
                report.imported.append(response.json()["entitlement_id"])
            else:
                report.problems.append(LineProblem(
                    order.first_line,
                    f"sales order {order.sales_order}: {response.status_code} {_detail(response)}"))
        if progress is not None:
            progress(done, len(orders))
    return report


def _detail(response: httpx.Response) -> str:
    try:
        return response.json().get("detail") or response.text
    except ValueError:
        return response.text[:200]


def progress_bar(stream=None, width: int = 30):
    def show(done: int, total: int) -> None:
        filled = width * done // total if total else width
        out = stream or sys.stderr
        out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} orders")
        if done == total:
            out.write("\n")
        out.flush()

    return show


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m entitlements.import_orders", description=__doc__.split("\n")[0])
    parser.add_argument("csv_file")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the public API (the gateway)")
    parser.add_argument("--token", help="an access token of the vendor's Admin")
    parser.add_argument("--email")
    parser.add_argument("--password")
    args = parser.parse_args(argv)
    if not args.token and not (args.email and args.password):
        parser.error("give --token, or --email and --password")
    orders, problems = read_orders(args.csv_file)
    with httpx.Client(base_url=args.url, timeout=30) as client:
        token = args.token or sign_in(client, args.email, args.password)
        client.headers["Authorization"] = f"Bearer {token}"
        report = import_orders(client, orders, progress_bar())
    report.problems = sorted(problems + report.problems, key=lambda p: p.line)
    print(f"{len(report.imported)} of {len(orders)} orders imported (or already there).")
    for problem in report.problems:
        print(f"line {problem.line}: {problem.message}", file=sys.stderr)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
