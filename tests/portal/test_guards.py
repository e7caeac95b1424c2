"""What the portal refuses, and why the person sees: the API's reasons next to the form, and the
API's permission checks behind every page (hiding a button is not what protects an export)."""

import asyncio
import uuid

import httpx
import pytest

from tests.portal.signed_in import same_site, sign_in

pytestmark = pytest.mark.system  # the whole platform runs behind the portal


async def signed_in(portal: httpx.AsyncClient, email: str) -> dict:
    """Signs the portal client in; returns the headers a page of the portal sends on a POST."""
    await sign_in(portal, email)
    return same_site(portal)


async def test_a_refused_transfer_shows_the_api_reason_in_the_dialog(portal, distributor):
    headers = await signed_in(portal, distributor.admin_email)
    stranger = str(uuid.uuid4())
    answer = await portal.post("/transfers", headers={**headers, "HX-Request": "true"}, data={
        "entitlement_id": distributor.entitlement_id, "product_id": distributor.product_id, "split": "on",
        "quantity": "5", "to_org_id": stranger, "notify": "on", "cc_emails": ""})
    assert answer.status_code == 409
    assert 'role="alert"' in answer.text and "not one of your integrators" in answer.text, "the API's detail"
    assert 'name="quantity" type="number"' in answer.text and 'value="5"' in answer.text, "the form keeps what was typed"
    sent = (await distributor.admin.get("/api/v1/transfers")).json()["items"]
    assert all(t["to_org_id"] != stranger for t in sent)


async def test_a_split_larger_than_available_is_refused_before_the_confirmation(portal, distributor):
    headers = await signed_in(portal, distributor.admin_email)
    answer = await portal.post("/transfers/review", headers={**headers, "HX-Request": "true"}, data={
        "entitlement_id": distributor.entitlement_id, "product_id": distributor.product_id, "split": "on",
        "quantity": "100000", "to_org_id": str(uuid.uuid4())})
    assert answer.status_code == 422
    assert "Enter a quantity from 1 to" in answer.text and "Confirm the transfer" not in answer.text


async def test_a_viewer_cannot_export_even_by_typing_the_address(portal, viewer_email):
    await signed_in(portal, viewer_email)
    page = await portal.get("/transactions")
    assert page.status_code == 200 and "Export CSV" not in page.text
    export = await portal.get("/transactions/export.csv")
    assert export.status_code == 403 and "viewer" in export.json()["detail"].lower()
    assert (await portal.get("/audit/export.csv")).status_code == 403


async def test_an_expired_access_token_is_renewed_once_for_pages_asked_at_the_same_time(portal, distributor):
    await signed_in(portal, distributor.admin_email)
    portal.cookies.set("portal_access", "expired")  # as if its 15 minutes had run out
    first, second = await asyncio.gather(portal.get("/dashboard"), portal.get("/licenses"))
    assert (first.status_code, second.status_code) == (200, 200)
    renewed = {first.cookies.get("portal_access"), second.cookies.get("portal_access")}
    assert len(renewed) == 1 and None not in renewed, "both answers carry the one renewed token"
    # The rotated refresh token was used once only: the session goes on (a reuse would revoke it).
    portal.cookies.set("portal_access", "expired")
    assert (await portal.get("/dashboard")).status_code == 200
