"""Pages and forms over real HTTP: they work before any script runs."""

from __future__ import annotations

import re

from tests.livekit import Browserless, LiveServer, World, csrf_from


async def test_healthz_and_security_headers(server: LiveServer, new_visitor) -> None:
    visitor: Browserless = new_visitor()
    health = await visitor.http.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    ready = await visitor.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "redis": "not configured"}
    hall = await visitor.http.get("/")
    assert "default-src 'self'" in hall.headers["content-security-policy"]
    assert hall.headers["x-content-type-options"] == "nosniff"


async def test_hall_is_server_rendered(new_visitor, world: World) -> None:
    page = (await new_visitor().http.get("/")).text
    assert "Zorggroep A" in page and "Bouwbedrijf B" in page
    assert 'lang="nl"' in page
    assert "Inzoomen" in page


async def test_hall_filters_without_script(new_visitor, world: World) -> None:
    page = (await new_visitor().http.get("/?sector=bouw")).text
    card_a = re.search(rf'<article[^>]*id="booth-{world.booth_a}"[^>]*>', page)
    card_b = re.search(rf'<article[^>]*id="booth-{world.booth_b}"[^>]*>', page)
    assert card_a and card_b
    assert "hidden" in card_a.group(0)
    assert "hidden" not in card_b.group(0)


async def test_sign_in_refuses_bad_input_and_keeps_nothing(new_visitor) -> None:
    visitor: Browserless = new_visitor()
    token = await visitor.csrf("/aanmelden")
    response = await visitor.http.post(
        "/aanmelden",
        data={"csrf": token, "name": "", "email": "geen-email", "phone": "abc", "next": "/"},
    )
    assert response.status_code == 400
    page = response.text
    assert 'href="#field-name"' in page
    assert 'href="#field-email"' in page
    assert 'href="#field-consent"' in page
    me = await visitor.http.get("/mijn-verzoek")
    assert me.status_code == 303  # still not signed in


async def test_signing_in_again_keeps_the_candidate_and_their_place(
    new_visitor, world: World
) -> None:
    advisor = new_visitor()
    await advisor.log_in("a1@test.example")
    visitor: Browserless = new_visitor()
    await visitor.sign_in_candidate("Kees")
    me = await visitor.socket()
    created = await me.send("request.create", {"booth_id": world.booth_a, "client_key": "k"})
    assert created["ok"], created
    # A second tab still showing the sign-in form posts it again.
    token = csrf_from((await visitor.http.get("/")).text)
    again = await visitor.http.post(
        "/aanmelden",
        data={
            "csrf": token,
            "name": "Kees",
            "email": "k@example.nl",
            "consent": "yes",
            "next": "/mijn-verzoek",
        },
    )
    assert again.status_code == 303 and again.headers["location"] == "/mijn-verzoek"
    synced = await me.send("session.sync", {})
    assert synced["data"]["me"]["request"]["id"] == created["data"]["request_id"]
    page = await visitor.http.get("/mijn-verzoek")
    assert page.status_code == 200 and "Zorggroep A" in page.text
    await me.close()


async def test_form_without_csrf_is_refused(new_visitor) -> None:
    visitor: Browserless = new_visitor()
    await visitor.http.get("/aanmelden")
    response = await visitor.http.post(
        "/aanmelden",
        data={"name": "X", "email": "x@example.nl", "consent": "yes", "next": "/"},
    )
    assert response.status_code == 403
    assert (await visitor.http.get("/mijn-verzoek")).status_code == 303


async def test_zoom_in_by_form_then_cancel(new_visitor, world: World) -> None:
    advisor = new_visitor()
    await advisor.log_in("a1@test.example")
    visitor: Browserless = new_visitor()
    redirect = await visitor.http.get(f"/inzoomen/{world.booth_a}")
    assert redirect.status_code == 303
    assert redirect.headers["location"] == f"/aanmelden?next=%2Finzoomen%2F{world.booth_a}"
    await visitor.sign_in_candidate("Kees")
    form = (await visitor.http.get(f"/inzoomen/{world.booth_a}")).text
    key = re.search(r'name="client_key" value="([^"]+)"', form)
    assert key
    data = {
        "csrf": csrf_from(form),
        "client_key": key.group(1),
        "question": "Werk in de zorg?",
        "advisor_id": "",
    }
    first = await visitor.http.post(f"/inzoomen/{world.booth_a}", data=data)
    again = await visitor.http.post(f"/inzoomen/{world.booth_a}", data=data)  # a double click
    assert first.status_code == again.status_code == 303
    page = (await visitor.http.get("/mijn-verzoek")).text
    assert "Werk in de zorg?" in page
    assert "nummer 1" in page
    console = (await advisor.http.get("/adviseur")).text
    assert console.count("Werk in de zorg?") == 1
    request_id = re.search(r'name="request_id" value="(\d+)"', page)
    assert request_id
    cancel = await visitor.http.post(
        "/mijn-verzoek/annuleren", data={"csrf": csrf_from(page), "request_id": request_id.group(1)}
    )
    assert cancel.status_code == 303
    assert "Werk in de zorg?" not in (await advisor.http.get("/adviseur")).text


async def test_user_text_is_escaped_everywhere(new_visitor, world: World) -> None:
    advisor = new_visitor()
    await advisor.log_in("a1@test.example")
    visitor: Browserless = new_visitor()
    evil = '<script>alert("x")</script>'
    await visitor.sign_in_candidate(evil)
    form = (await visitor.http.get(f"/inzoomen/{world.booth_a}")).text
    key = re.search(r'name="client_key" value="([^"]+)"', form)
    assert key
    await visitor.http.post(
        f"/inzoomen/{world.booth_a}",
        data={"csrf": csrf_from(form), "client_key": key.group(1), "question": evil},
    )
    for page in (
        (await visitor.http.get("/mijn-verzoek")).text,
        (await visitor.http.get("/")).text,
        (await advisor.http.get("/adviseur")).text,
    ):
        assert evil not in page
    assert "&lt;script&gt;" in (await advisor.http.get("/adviseur")).text


async def test_staff_login_and_roles(new_visitor, world: World) -> None:
    visitor: Browserless = new_visitor()
    token = await visitor.csrf("/inloggen")
    wrong = await visitor.http.post(
        "/inloggen", data={"csrf": token, "email": "a1@test.example", "password": "wrong-password"}
    )
    assert wrong.status_code == 400
    assert (await visitor.http.get("/adviseur")).status_code == 303
    await visitor.log_in("a1@test.example")
    assert (await visitor.http.get("/adviseur")).status_code == 200
    assert (await visitor.http.get("/moderator")).status_code == 403
    moderator = new_visitor()
    await moderator.log_in("mod@test.example")
    overview = await moderator.http.get("/moderator")
    assert overview.status_code == 200
    assert "Zorggroep A" in overview.text
    assert (await moderator.http.get("/adviseur")).status_code == 403


async def test_advisor_accepts_by_form(new_visitor, world: World) -> None:
    advisor = new_visitor()
    await advisor.log_in("b1@test.example")
    candidate: Browserless = new_visitor()
    await candidate.sign_in_candidate("Fatma")
    form = (await candidate.http.get(f"/inzoomen/{world.booth_b}")).text
    key = re.search(r'name="client_key" value="([^"]+)"', form)
    assert key
    await candidate.http.post(
        f"/inzoomen/{world.booth_b}", data={"csrf": csrf_from(form), "client_key": key.group(1)}
    )
    console = (await advisor.http.get("/adviseur")).text
    accepted = await advisor.http.post("/adviseur/accepteren", data={"csrf": csrf_from(console)})
    assert accepted.status_code == 303
    console = (await advisor.http.get("/adviseur")).text
    mine = (await candidate.http.get("/mijn-verzoek")).text
    link = re.search(r'href="(https://meet\.example\.test/inzoomen-[^"]+)"', mine)
    assert link, "the candidate sees the video link"
    assert link.group(1) in console


async def test_personal_data_stays_out_of_the_server_log(
    server: LiveServer, new_visitor, world: World
) -> None:
    visitor: Browserless = new_visitor()
    await visitor.sign_in_candidate("Zeldzame Naam", "zeldzaam.adres@example.nl")
    peer = await visitor.socket()
    reply = await peer.send(
        "request.create",
        {"booth_id": world.booth_a, "client_key": "p", "question": "Geheime vraag 7731"},
    )
    assert reply["ok"]
    await peer.send("request.create", {"booth_id": "bad", "client_key": "p2"})
    await peer.close()
    log = server.log()
    assert "POST /aanmelden" in log  # the log is being written
    for secret in ("Zeldzame", "zeldzaam.adres", "Geheime vraag"):
        assert secret not in log


async def test_signing_in_twice_keeps_the_place_and_signing_out_frees_it(
    new_visitor, world: World
) -> None:
    advisor = new_visitor()
    await advisor.log_in("a1@test.example")
    visitor: Browserless = new_visitor()
    await visitor.sign_in_candidate("Ilse")
    peer = await visitor.socket()
    reply = await peer.send("request.create", {"booth_id": world.booth_a, "client_key": "s"})
    assert reply["ok"]
    await peer.close()
    again = await visitor.http.get("/aanmelden?next=/mijn-verzoek")
    assert again.status_code == 303 and again.headers["location"] == "/mijn-verzoek"
    assert "nummer 1" in (await visitor.http.get("/mijn-verzoek")).text
    assert "Ilse" in (await advisor.http.get("/adviseur")).text
    page = (await visitor.http.get("/mijn-verzoek")).text
    out = await visitor.http.post("/uitloggen", data={"csrf": csrf_from(page)})
    assert out.status_code == 303
    assert "Ilse" not in (await advisor.http.get("/adviseur")).text
