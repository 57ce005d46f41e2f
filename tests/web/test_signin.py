"""Sign-in when authentication is on: the pages ask for a key, a wrong key is refused with the
server's reason, a read-only key can look but not change, sign-out ends the session."""

from __future__ import annotations

from typing import Any

import httpx

from tests.web.conftest import Plant


def _sign_in(page: Any, plant: Plant, key: str) -> None:
    page.goto(f"{plant.url}/ui/")
    page.wait_for_url("**/ui/signin?next=*")
    page.fill("#key", key)
    page.click("button[type=submit]")


def test_a_key_is_needed_and_a_wrong_one_is_refused(secured_plant: tuple[Plant, str, str],
                                                    page: Any) -> None:
    plant, _, _ = secured_plant
    _sign_in(page, plant, "htk_nope_nope")
    page.wait_for_selector("#problem:not([hidden])")
    assert "Unknown or revoked API key" in page.inner_text("#problem")
    assert page.url.endswith("/ui/signin?next=%2Fui%2F")
    # without a key the API itself refuses: the pages are no way around it
    assert httpx.get(f"{plant.url}/ui/api/graph").status_code == 401
    assert page.errors == []


def test_a_read_only_key_looks_but_cannot_change(secured_plant: tuple[Plant, str, str],
                                                 page: Any) -> None:
    plant, read_key, _ = secured_plant
    _sign_in(page, plant, read_key)
    page.wait_for_url(f"{plant.url}/ui/")
    page.wait_for_selector("body[data-ready]")
    assert "viewer (read)" in page.inner_text("header.top .who")
    assert page.evaluate("document.body.classList.contains('read-only')")
    # the session cookie is HttpOnly: scripts cannot read the key
    assert read_key not in page.evaluate("document.cookie")
    # with that session the browser may read, and a change is refused by the API (403)
    status = page.evaluate("""async () => {
        const read = await fetch('/digitaltwins/machine-1-1');
        const write = await fetch('/digitaltwins/machine-1-1/desired', {method: 'PATCH',
            headers: {'Content-Type': 'application/json'}, body: JSON.stringify({speed: 80})});
        return [read.status, write.status, (await write.json()).detail];
    }""")
    assert status[0] == 200 and status[1] == 403 and "scope 'read'" in status[2]
    page.click("#signout")
    page.wait_for_url("**/ui/signin")
    assert page.evaluate("fetch('/digitaltwins/machine-1-1').then(r => r.status)") == 401
    assert page.errors == []


def test_a_write_key_may_change(secured_plant: tuple[Plant, str, str], page: Any) -> None:
    plant, _, write_key = secured_plant
    _sign_in(page, plant, write_key)
    page.wait_for_url(f"{plant.url}/ui/")
    page.wait_for_selector("body[data-ready]")
    assert "operator (write)" in page.inner_text("header.top .who")
    assert not page.evaluate("document.body.classList.contains('read-only')")
    status = page.evaluate("""() => fetch('/digitaltwins/machine-1-1/desired', {method: 'PATCH',
        headers: {'Content-Type': 'application/json'}, body: JSON.stringify({speed: 80})})
        .then(r => r.status)""")
    assert status == 200
    twin = plant.service.get_twin("machine-1-1")
    assert twin["$metadata"]["speed"]["desiredValue"] == 80
