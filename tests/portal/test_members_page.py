"""Members: in a real browser a distributor Admin invites a member through the members page and
finds the invitation in the invited list; over plain HTTP, the invite form's refusals, resend and
delete of an invitation, a role change and its refusal, and a Viewer who sees no managing control."""

import re

import pytest
from playwright.async_api import expect

from tests.portal.browser import screenshot
from tests.portal.signed_in import open_signed_in, post_form, sign_in
from tests.portal.world import member_with_role
from tests.system.platform import unique_email

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]


async def test_an_admin_invites_a_member_through_the_members_page(distributor, new_page):
    invitee = unique_email("new-pm")
    page = await new_page()
    await open_signed_in(page, distributor.admin_email, "/members")
    await expect(page.get_by_role("row").filter(has_text=distributor.admin_email)).to_be_visible()
    await screenshot(page, "members")

    await page.get_by_role("button", name="+ Invite member").click()
    dialog = page.locator("#modal")
    await dialog.get_by_label("Email").fill(invitee)
    await dialog.get_by_label("Phone (optional)").fill("+46 8 123 456")
    await dialog.get_by_label("Role").select_option(label="Project manager")
    await dialog.get_by_role("button", name="Send invitation").click()

    await expect(page.get_by_role("status")).to_contain_text(f"Invitation sent to {invitee}")
    row = page.get_by_role("row").filter(has_text=invitee)
    await expect(row).to_contain_text("Project manager")
    await expect(row.get_by_role("button", name=f"Resend the invitation to {invitee}")).to_be_visible()
    await screenshot(page, "members-invited")
    invites = (await distributor.admin.get("/api/v1/invites", params={"q": invitee})).json()["items"]
    assert [(i["role"], i["phone"]) for i in invites] == [("project_manager", "+46 8 123 456")]


async def test_a_refused_invite_keeps_the_form_and_says_why(portal, distributor):
    await sign_in(portal, distributor.admin_email)
    answer = await post_form(portal, "/members/invite", {"email": "not-an-address", "role": "viewer"}, htmx=True)
    assert answer.status_code == 422
    assert re.search(r'id="f-email"[^>]*aria-invalid="true"', answer.text)
    assert 'value="not-an-address"' in answer.text

    answer = await post_form(portal, "/members/invite", {"email": distributor.admin_email, "role": "viewer"})
    assert answer.status_code == 409 and "already belongs to a member" in answer.text


async def test_an_invitation_is_resent_and_deleted(portal, distributor):
    await sign_in(portal, distributor.admin_email)
    invitee = unique_email("resend")
    invite = (await distributor.admin.post("/api/v1/invites", json={"email": invitee, "role": "viewer"})).json()

    answer = await post_form(portal, f"/members/invites/{invite['id']}/resend", {})
    assert answer.status_code == 303
    listed = await portal.get(answer.headers["location"])
    assert f"Invitation resent to {invitee}" in listed.text

    confirm = await portal.get(f"/members/invites/{invite['id']}/delete", params={"email": invitee})
    assert f"Delete the invitation to {invitee}?" in confirm.text
    answer = await post_form(portal, f"/members/invites/{invite['id']}/delete", {"email": invitee})
    assert answer.status_code == 303
    assert (await distributor.admin.get("/api/v1/invites", params={"q": invitee})).json()["items"] == []


async def test_a_viewer_sees_no_managing_control_and_an_admin_changes_their_role_then_removes_them(
        platform, portal, distributor):
    viewer_email = await member_with_role(platform, distributor.admin, "viewer")
    member_id = (await distributor.admin.get("/api/v1/members", params={"q": viewer_email})).json()["items"][0]["id"]
    await sign_in(portal, viewer_email)
    page = await portal.get("/members")
    assert "Invite member" not in page.text and "may not do this" in page.text, "the API's refusal, no controls"

    await sign_in(portal, distributor.admin_email)
    answer = await post_form(portal, f"/members/{member_id}/role", {"role": "no_such_role"}, htmx=True)
    assert answer.status_code == 422 and "does not exist for a distributor" in answer.text
    answer = await post_form(portal, f"/members/{member_id}/role", {"role": "auditor"}, htmx=True)
    assert answer.status_code == 200 and "is now auditor" in answer.text
    assert (await distributor.admin.get(f"/api/v1/members/{member_id}")).json()["role"] == "auditor"

    confirm = await portal.get(f"/members/{member_id}/remove", params={"email": viewer_email})
    assert f"Remove {viewer_email}?" in confirm.text
    answer = await post_form(portal, f"/members/{member_id}/remove", {"email": viewer_email})
    assert answer.status_code == 303
    assert (await distributor.admin.get(f"/api/v1/members/{member_id}")).status_code == 404

    own_id = (await distributor.admin.get("/api/v1/me")).json()["id"]
    own_panel = await portal.get(f"/members/{own_id}", headers={"HX-Request": "true"})
    assert "This is you" in own_panel.text and "Remove member" not in own_panel.text
