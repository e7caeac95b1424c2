"""Integrators and customers over plain HTTP: the create form's refusals shown next to the fields
they concern, what was typed kept, representative rows added and removed by the form itself, the
detail panel's refusals, a distributor's own customers, and archive and unarchive after confirming."""

import re

from tests.portal.signed_in import post_form, sign_in

COMPANY = [("name", "Refused Systems"), ("email_domain", "refused.example"), ("country", "Germany")]


def field_error(page: str, field_id: str) -> str | None:
    """The message shown under an input (the one its aria-describedby points at)."""
    if not re.search(rf'id="{field_id}"[^>]*aria-invalid="true"', page, re.S):
        return None
    found = re.search(rf'<small id="{field_id}-error"[^>]*>([^<]*)</small>', page)
    return found.group(1) if found else None


async def test_refused_fields_show_their_own_message_and_keep_what_was_typed(portal, distributor):
    await sign_in(portal, distributor.admin_email)
    answer = await post_form(portal, "/integrators/new", COMPANY + [
        ("rep_email", "first@refused.example"), ("rep_first_name", "Ada"),
        ("rep_email", "not-an-email"), ("rep_first_name", "Bo"), ("default", "1"), ("action", "create")])
    assert answer.status_code == 422
    assert "at most 2 characters" in field_error(answer.text, "f-country")
    assert "not a valid email address" in field_error(answer.text, "f-representatives-1-email")
    assert field_error(answer.text, "f-representatives-0-email") is None
    assert 'role="alert"' in answer.text
    assert 'value="Germany"' in answer.text and 'value="not-an-email"' in answer.text
    assert re.search(r'name="default" value="1"\s+checked', answer.text), "the chosen default stays chosen"
    listed = await distributor.admin.get("/api/v1/integrators", params={"q": "Refused Systems"})
    assert listed.json()["items"] == [], "nothing was created"


async def test_a_rule_across_representatives_is_shown_above_the_form(portal, distributor):
    await sign_in(portal, distributor.admin_email)
    answer = await post_form(portal, "/integrators/new", [
        ("name", "Twice Ltd"), ("rep_email", "same@twice.example"), ("rep_email", "SAME@twice.example"),
        ("action", "create")], htmx=True)
    assert answer.status_code == 422
    alert = re.search(r'role="alert"[^>]*>([^<]*)<', answer.text).group(1)
    assert "appears more than once" in alert
    assert "<html" not in answer.text, "htmx gets the form alone, swapped in place"


async def test_representative_rows_are_added_up_to_five_and_removed_keeping_the_default(portal, distributor):
    await sign_in(portal, distributor.admin_email)
    rows = [("rep_email", f"r{i}@rows.example") for i in range(4)]
    answer = await post_form(portal, "/integrators/new", [("name", "Rows"), *rows, ("default", "2"), ("action", "add")])
    assert answer.status_code == 200
    assert answer.text.count("<legend>Representative ") == 5
    assert re.search(r'name="action" value="add"[^>]*disabled', answer.text), "a sixth row cannot be added"

    answer = await post_form(portal, "/integrators/new", [("name", "Rows"), *rows, ("default", "2"), ("action", "remove-0")])
    assert answer.text.count("<legend>Representative ") == 3
    assert 'value="r0@rows.example"' not in answer.text
    assert re.search(r'name="default" value="1"\s+checked', answer.text), "r2 is still the default, now second"


async def test_the_detail_panel_refuses_a_duplicate_representative_and_shows_why(portal, distributor):
    created = await distributor.admin.post("/api/v1/integrators", json={
        "name": "Panel Refusals", "representatives": [{"email": "only@panel.example"}]})
    org_id = created.json()["id"]
    await sign_in(portal, distributor.admin_email)

    answer = await post_form(portal, f"/integrators/{org_id}/representatives", {"email": "ONLY@panel.example"},
                             htmx=True)
    assert answer.status_code == 409 and "already exists" in answer.text
    answer = await post_form(portal, f"/integrators/{org_id}/representatives", {"email": "nope"}, htmx=True)
    assert answer.status_code == 422 and "not a valid email address" in field_error(answer.text, "f-new-rep-email")
    answer = await post_form(portal, f"/integrators/{org_id}/representatives/"
                                     f"{created.json()['representatives'][0]['id']}/remove", {}, htmx=True)
    assert answer.status_code == 409 and "last representative" in answer.text
    detail = (await distributor.admin.get(f"/api/v1/integrators/{org_id}")).json()
    assert [r["email"] for r in detail["representatives"]] == ["only@panel.example"], "nothing changed"


async def test_a_distributor_creates_its_own_customer_on_the_customers_tab(portal, distributor):
    await sign_in(portal, distributor.admin_email)
    answer = await post_form(portal, "/customers/new", [
        ("name", "Direct Dental"), ("country", "fi"), ("rep_email", "desk@direct-dental.example"), ("action", "create")])
    assert answer.status_code == 303 and answer.headers["location"].startswith("/customers?open=")
    page = await portal.get(answer.headers["location"])
    assert "Customer Direct Dental created." in page.text
    assert re.search(r'<a href="/customers" aria-current="page">Customers</a>', page.text)
    assert re.search(r'<h2 id="panel-title">Direct Dental</h2>', page.text), "its detail panel is open"
    customers = (await distributor.admin.get("/api/v1/customers", params={"q": "Direct Dental"})).json()["items"]
    assert [(c["tier"], c["country"]) for c in customers] == [("customer", "FI")]
    integrators = await portal.get("/integrators", params={"q": "Direct Dental"})
    assert "No active integrators match these filters." in integrators.text


async def test_an_integrator_is_archived_and_unarchived_after_confirming(portal, distributor):
    created = await distributor.admin.post("/api/v1/integrators", json={
        "name": "Archive Me AS", "representatives": [{"email": "rep@archive-me.example"}]})
    org_id = created.json()["id"]
    await sign_in(portal, distributor.admin_email)

    confirm = await portal.get(f"/integrators/{org_id}/archive", headers={"HX-Request": "true"})
    assert "Archive Archive Me AS?" in confirm.text and "can no longer receive license transfers" in confirm.text
    answer = await post_form(portal, f"/integrators/{org_id}/archive", {})
    assert answer.status_code == 303 and answer.headers["location"] == "/integrators?status=archived"
    archived = await portal.get(answer.headers["location"])
    assert "Archive Me AS archived." in archived.text and f'href="/integrators/{org_id}"' in archived.text
    again = await post_form(portal, f"/integrators/{org_id}/archive", {}, htmx=True)
    assert again.status_code == 409 and "already archived" in again.text

    answer = await post_form(portal, f"/integrators/{org_id}/unarchive", {})
    assert answer.status_code == 303
    assert (await distributor.admin.get(f"/api/v1/integrators/{org_id}")).json()["status"] == "active"
