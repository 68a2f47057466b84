"""Share links and the public page and cards: opt-in per user and year, unguessable
tokens, one 404 for unknown and revoked tokens, nothing private shown, the numbers of
the stored summary, Open Graph tags, conditional requests, and cards cached in storage."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from typing import Any

import pytest
import time_machine
import yaml
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from events.models import EndUser, Tenant
from events.models.tenancy import TenantStatus
from tests.wrapped.reference import NOW, load_reference
from wrapped import sharing
from wrapped.cards import FORMATS, layout
from wrapped.models import Branding, ShareLink, WrappedSummary
from wrapped.recap import recap_of

SHARE = "/v1/users/{}/wrapped/share"
PRIVATE_EMAIL = "ann.private@example.com"
PRIVATE_ATTRIBUTE = "plan-secret-gold"


@pytest.fixture(autouse=True)
def card_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "cards": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "cards", "allow_overwrite": True},
        },
    }
    return tmp_path / "cards"


@pytest.fixture
def reference(owner, api):
    load_reference(api, owner.tenant)
    EndUser.objects.filter(tenant=owner.tenant, external_id="ann").update(
        name="Ann Lee", email=PRIVATE_EMAIL, attributes={"plan": PRIVATE_ATTRIBUTE}
    )
    return api


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def share(client: Any, user: str = "ann", year: Any = 2025) -> Any:
    return client.post(f"{SHARE.format(user)}?year={year}")


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


class Meta(HTMLParser):
    """The page's <meta> tags, by name or property."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: dict[str, str] = {}
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        key = found.get("property") or found.get("name")
        if tag == "meta" and key:
            self.tags[key] = found.get("content") or ""


def test_sharing_makes_one_link_per_user_and_year(reference, frozen):
    first = share(reference)
    again = share(reference)

    assert first.status_code == 201 and again.status_code == 200
    body = first.json()
    assert again.json() == body
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", body["token"])  # 192 bits from `secrets`
    assert body["url"] == f"http://testserver/w/{body['token']}/"
    assert set(body["images"]) == {"story", "square", "og"}
    for fmt, url in body["images"].items():
        assert re.fullmatch(rf"{re.escape(body['url'])}{fmt}\.png\?v=[0-9a-f]{{16}}", url)
    assert ShareLink.objects.count() == 1
    other = share(reference, "kai").json()
    assert other["token"] != body["token"]


def test_share_base_url_names_the_public_host(reference, frozen, settings):
    settings.SHARE_BASE_URL = "https://wrapped.example.com"
    body = share(reference).json()
    assert body["url"].startswith("https://wrapped.example.com/w/")
    assert all(url.startswith("https://wrapped.example.com/w/") for url in body["images"].values())


def test_the_page_shows_the_summary_and_nothing_private(reference, frozen, client):
    link = share(reference).json()
    wrapped = reference.get("/v1/users/ann/wrapped", {"year": 2025}).json()
    recap = recap_of(wrapped["activity"], year=2025, name="Ann Lee")

    page = client.get(path_of(link["url"]))
    html = page.content.decode()

    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert "Ann Lee" in html
    assert recap.hero is not None and recap.hero.value in html and recap.hero.label in html
    assert f"<dd>{wrapped['activity']['daysActive']}</dd>" in html
    assert f"<dd>{wrapped['activity']['weeksActive']}</dd>" in html
    assert "Words written" in html
    assert PRIVATE_EMAIL not in html and PRIVATE_ATTRIBUTE not in html
    assert not re.search(r"\bann\b", html)  # nor the user's id


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_the_cards_say_nothing_private(reference, frozen, owner, fmt):
    link = share(reference).json()
    shared = sharing.shared_by_token(link["token"])
    assert shared is not None
    rendered = sharing.rendition(shared, host="testserver")
    texts = " ".join(
        drawn.text for drawn in layout(rendered.recap, shared.brand, fmt, host="testserver").texts
    )
    assert "Ann Lee" in texts
    assert PRIVATE_EMAIL not in texts and PRIVATE_ATTRIBUTE not in texts
    assert not re.search(r"\bann\b", texts)


def test_the_page_has_open_graph_and_twitter_tags(reference, frozen, client):
    link = share(reference).json()
    html = client.get(path_of(link["url"])).content.decode()
    tags = Meta(html).tags

    assert tags["og:image"] == link["images"]["og"]
    assert (tags["og:image:width"], tags["og:image:height"]) == ("1200", "630")
    assert tags["twitter:card"] == "summary_large_image"
    assert tags["og:url"] == link["url"]
    assert tags["og:title"] == "Ann Lee’s 2025 in review"
    assert "days active" in tags["og:description"] or "in a row" in tags["og:description"]
    assert tags["robots"].startswith("noindex")


def test_indexing_is_off_unless_the_tenant_allows_it(reference, frozen, client, owner):
    link = share(reference).json()
    assert client.get(path_of(link["url"]))["X-Robots-Tag"] == "noindex"

    Branding.objects.create(tenant=owner.tenant, allow_indexing=True)
    page = client.get(path_of(link["url"]))
    assert "X-Robots-Tag" not in page
    assert "robots" not in Meta(page.content.decode()).tags


def test_the_page_answers_304_to_its_etag_and_changes_with_the_summary(reference, frozen, client):
    link = share(reference).json()
    first = client.get(path_of(link["url"]))
    etag = first["ETag"]

    assert first["Cache-Control"] == "public, no-cache"
    repeat = client.get(path_of(link["url"]), HTTP_IF_NONE_MATCH=etag)
    assert repeat.status_code == 304 and repeat.content == b""
    assert repeat["ETag"] == etag and repeat["Cache-Control"] == "public, no-cache"
    assert repeat["X-Robots-Tag"] == "noindex"

    body = {"user": {"id": "ann"}, "value": 5, "timestamp": "2025-07-01T12:00:00Z"}
    assert reference.post("/v1/metrics/words/event", body, format="json").status_code == 201
    changed = client.get(path_of(link["url"]), HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


@pytest.mark.parametrize("what", ["url", "og"])
def test_a_fresh_page_or_stored_card_costs_two_queries(reference, frozen, client, what):
    link = share(reference).json()
    url = path_of(link["url"] if what == "url" else link["images"][what])
    client.get(url)  # the summary and the card are stored by now
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    # The link with its user, tenant and branding; the summary with its population version.
    assert len(queries) == 2, [q["sql"] for q in queries]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_cards_are_pngs_of_their_format_stored_once(reference, frozen, client, fmt, card_storage):
    link = share(reference).json()
    url = path_of(link["images"][fmt])

    first = client.get(url)
    image = Image.open(io.BytesIO(first.content))

    assert first.status_code == 200 and first["Content-Type"] == "image/png"
    assert image.size == FORMATS[fmt] and image.format == "PNG"
    assert first["Cache-Control"] == "public, max-age=31536000, immutable"
    stored = list(card_storage.rglob("*.png"))
    assert len(stored) == 1 and stored[0].read_bytes() == first.content
    again = client.get(url)
    assert again.content == first.content
    unchanged = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert unchanged.status_code == 304 and unchanged["ETag"] == first["ETag"]
    assert unchanged["Cache-Control"] == first["Cache-Control"]
    # Without the version, the card as of now, revalidated each time.
    assert client.get(url.split("?")[0])["Cache-Control"] == "public, no-cache"


def png(size: tuple[int, int] = (4, 4), color: str = "red", fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return buffer.getvalue()


def test_a_stored_card_is_served_without_drawing_it_again(reference, frozen, client, card_storage):
    link = share(reference).json()
    url = path_of(link["images"]["og"])
    drawn = client.get(url).content
    [stored] = card_storage.rglob("*.png")
    stored.write_bytes(png())  # what the storage holds is what is served
    assert client.get(url).content == png()

    # A file cut short (a write in progress, a killed process) is drawn again, never served.
    stored.write_bytes(drawn[: len(drawn) // 2])
    assert client.get(url).content == drawn
    assert stored.read_bytes() == drawn


def without_request_id(headers: Any) -> dict[str, str]:
    """Response headers but the request's own id (trophy_site/request_id.py)."""
    return {name: value for name, value in headers.items() if name != "X-Request-ID"}


def test_revoked_and_unknown_tokens_get_the_same_404_everywhere(reference, frozen, client):
    link = share(reference).json()
    page, images = path_of(link["url"]), [path_of(url) for url in link["images"].values()]
    assert client.get(page).status_code == 200

    assert reference.delete(f"{SHARE.format('ann')}?year=2025").status_code == 204

    unknown = "/w/" + "A" * 32 + "/"
    expected = client.get(unknown)
    assert expected.status_code == 404
    overlong = "/w/" + "A" * 65 + "/"
    paths = [page, *images, unknown + "og.png", unknown + "story.png", "/w/a.b%00c/", overlong]
    for url in paths:
        for response in (client.get(url), client.head(url)):
            assert response.status_code == 404, url
            assert response.content in (expected.content, b"")  # HEAD: no body
            assert without_request_id(response.headers) == without_request_id(expected.headers)
    assert client.get(page).content == expected.content
    assert ShareLink.objects.count() == 0
    # Revoking again is no error; sharing again makes a new token, the old stays dead.
    assert reference.delete(f"{SHARE.format('ann')}?year=2025").status_code == 204
    renewed = share(reference)
    assert renewed.status_code == 201 and renewed.json()["token"] != link["token"]
    assert client.get(page).status_code == 404


def test_an_unknown_card_format_is_the_same_404(reference, frozen, client):
    link = share(reference).json()
    expected = client.get("/w/" + "B" * 32 + "/")
    response = client.get(path_of(link["url"]) + "poster.png")
    assert response.status_code == 404 and response.content == expected.content


def test_an_archived_tenants_pages_are_gone(reference, frozen, client, owner):
    link = share(reference).json()
    Tenant.objects.filter(pk=owner.tenant.pk).update(status=TenantStatus.ARCHIVED)
    assert client.get(path_of(link["url"])).status_code == 404


def test_another_tenants_user_is_a_404_and_nothing_changes(reference, frozen, outsider):
    link = share(reference).json()
    other = outsider.client()

    created = share(other)
    revoked = other.delete(f"{SHARE.format('ann')}?year=2025")

    assert created.status_code == 404 and "error" in created.json()
    assert revoked.status_code == 404 and "error" in revoked.json()
    assert list(ShareLink.objects.values_list("token", flat=True)) == [link["token"]]


def test_share_needs_a_key(reference, frozen):
    from rest_framework.test import APIClient

    anonymous = APIClient()
    assert anonymous.post(f"{SHARE.format('ann')}?year=2025").status_code == 401
    assert anonymous.delete(f"{SHARE.format('ann')}?year=2025").status_code == 401
    assert ShareLink.objects.count() == 0


@pytest.mark.parametrize("year", ["abc", "0", "2027", "2025.5"])
def test_a_bad_year_is_a_422_and_nothing_is_made(reference, frozen, year):
    response = share(reference, year=year)
    assert response.status_code == 422 and "year" in response.json()["error"]
    assert reference.delete(f"{SHARE.format('ann')}?year={year}").status_code == 422
    assert ShareLink.objects.count() == 0


def test_an_unknown_user_is_a_404(reference, frozen):
    response = share(reference, "nobody")
    assert response.status_code == 404 and "error" in response.json()


def test_a_user_without_activity_gets_a_friendly_page_and_cards(reference, frozen, client):
    body = {"user": {"id": "newbie"}, "value": 1, "timestamp": "2026-01-10T12:00:00Z"}
    assert reference.post("/v1/metrics/words/event", body, format="json").status_code == 201
    link = share(reference, "newbie").json()

    html = client.get(path_of(link["url"])).content.decode()

    assert "Your 2025 starts here" in html
    assert "<dd>0</dd>" not in html
    for url in link["images"].values():
        assert client.get(path_of(url)).status_code == 200


def test_one_active_day_reads_naturally(reference, frozen, client):
    body = {"user": {"id": "once"}, "value": 3, "timestamp": "2025-05-05T12:00:00Z"}
    assert reference.post("/v1/metrics/words/event", body, format="json").status_code == 201
    link = share(reference, "once").json()

    html = client.get(path_of(link["url"])).content.decode()

    assert "day active" in html and "1 days" not in html
    assert "<dt>day active</dt><dd>1</dd>" in html
    assert "<dt>week active</dt><dd>1</dd>" in html


def test_branding_colours_and_name_are_used(reference, frozen, client, owner):
    Branding.objects.create(
        tenant=owner.tenant,
        display_name="Acme Learn",
        background_color="#ffffff",
        accent_color="#ffff00",
    )
    link = share(reference).json()
    html = client.get(path_of(link["url"])).content.decode()

    assert "Acme Learn" in html
    assert "--bg:#ffffff" in html and "--fg:#000000" in html
    # Yellow on white is under 3:1: the hero is drawn in the text colour instead.
    assert "--hero:#000000" in html


def test_a_new_branding_or_tenant_name_gives_new_card_urls(reference, frozen, owner):
    before = share(reference).json()
    Branding.objects.create(tenant=owner.tenant, background_color="#003366")
    after = share(reference).json()
    assert after["token"] == before["token"]
    assert all(after["images"][fmt] != before["images"][fmt] for fmt in FORMATS)
    Tenant.objects.filter(pk=owner.tenant.pk).update(name="Acme Renamed")
    renamed = share(reference).json()
    assert all(renamed["images"][fmt] != after["images"][fmt] for fmt in FORMATS)


def test_a_logo_is_drawn_and_one_gone_from_disk_is_left_out(
    reference, frozen, client, owner, settings, tmp_path
):
    from django.core.files.base import ContentFile

    settings.MEDIA_ROOT = tmp_path / "media"
    branding = Branding(tenant=owner.tenant)
    branding.logo.save("logo.png", ContentFile(png((64, 32), "white")), save=True)
    link = share(reference).json()
    html = client.get(path_of(link["url"])).content.decode()
    assert 'class="logo"' in html
    with_logo = client.get(path_of(link["images"]["og"])).content

    (tmp_path / "media" / branding.logo.name).unlink()
    sharing._logos.clear()  # a process that had not read it yet
    gone = share(reference).json()
    page = client.get(path_of(gone["url"])).content.decode()
    card = client.get(path_of(gone["images"]["og"]))

    assert 'class="logo"' not in page and 'class="brand-name"' in page
    assert gone["images"]["og"] != link["images"]["og"]
    assert card.status_code == 200 and card.content != with_logo


def test_the_admin_previews_a_summary_page_and_cards(reference, frozen, admin_client):
    assert reference.get("/v1/users/ann/wrapped", {"year": 2025}).status_code == 200
    summary = WrappedSummary.objects.get(user__external_id="ann", year=2025)

    change = admin_client.get(reverse("admin:wrapped_wrappedsummary_change", args=[summary.pk]))
    page = admin_client.get(reverse("admin:wrapped_wrappedsummary_preview", args=[summary.pk]))

    assert change.status_code == 200 and "preview/" in change.content.decode()
    assert page.status_code == 200 and "Ann Lee" in page.content.decode()
    for fmt, size in FORMATS.items():
        card = admin_client.get(
            reverse("admin:wrapped_wrappedsummary_card", args=[summary.pk, fmt])
        )
        assert card.status_code == 200 and Image.open(io.BytesIO(card.content)).size == size
    missing = reverse("admin:wrapped_wrappedsummary_preview", args=[summary.pk + 999])
    assert admin_client.get(missing).status_code == 404


def test_the_admin_edits_branding_and_lists_share_links(reference, frozen, admin_client, owner):
    share(reference)
    add = admin_client.post(
        reverse("admin:wrapped_branding_add"),
        {
            "tenant": owner.tenant.pk,
            "display_name": "Acme",
            "background_color": "#123456",
            "accent_color": "#abcdef",
            "locale": "de",
        },
    )
    assert add.status_code == 302, add.content.decode()[:2000]
    bad = admin_client.post(
        reverse("admin:wrapped_branding_change", args=[owner.tenant.pk]),
        {
            "tenant": owner.tenant.pk,
            "background_color": "blue",
            "accent_color": "#abcdef",
            "locale": "en",
        },
    )
    assert bad.status_code == 200 and "#rrggbb" in bad.content.decode()
    gif = io.BytesIO(png(fmt="GIF"))
    gif.name = "logo.gif"
    rejected = admin_client.post(
        reverse("admin:wrapped_branding_change", args=[owner.tenant.pk]),
        {"background_color": "#123456", "accent_color": "#abcdef", "locale": "en", "logo": gif},
    )
    assert rejected.status_code == 200 and "PNG, JPEG or WebP" in rejected.content.decode()
    assert Branding.objects.get().background_color == "#123456"
    listing = admin_client.get(reverse("admin:wrapped_sharelink_changelist"))
    assert listing.status_code == 200 and "ann" in listing.content.decode()


def test_precompute_renders_the_cards_of_shared_recaps(reference, owner, settings, card_storage):
    with time_machine.travel(NOW, tick=False):
        share(reference)
        share(reference, "kai")
        settings.SHARE_BASE_URL = ""
        with pytest.raises(CommandError, match="SHARE_BASE_URL"):
            call_command("precompute_wrapped", year=2025, render_cards=True, no_progress=True)
        settings.SHARE_BASE_URL = "http://testserver"
        out = io.StringIO()
        call_command(
            "precompute_wrapped", year=2025, render_cards=True, no_progress=True, stdout=out
        )
    assert "6 drawn" in out.getvalue()
    assert len(list(card_storage.rglob("*.png"))) == 6
    # The pages then ask for exactly these files.
    link = share(reference).json()
    names = {path.stem for path in card_storage.rglob("*.png")}
    for url in link["images"].values():
        version = url.rsplit("v=", 1)[1]
        assert any(name.startswith(version) for name in names)


def test_the_schema_documents_the_share_endpoints(api):
    schema = api.get("/api/schema/?format=json")
    document = yaml.safe_load(schema.content)
    operations = document["paths"]["/v1/users/{user_id}/wrapped/share"]
    assert {"post", "delete"} <= set(operations)
    assert "Extension" in operations["post"]["description"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_precompute_draws_cards_in_forked_processes(owner, settings, card_storage):
    api = owner.client()
    load_reference(api, owner.tenant)
    settings.SHARE_BASE_URL = "http://testserver"
    with time_machine.travel(NOW, tick=False):
        for user in ("ann", "kai", "p1"):
            assert share(api, user).status_code == 201
        out = io.StringIO()
        call_command(
            "precompute_wrapped",
            year=2025,
            render_cards=True,
            processes=2,
            no_progress=True,
            stdout=out,
        )
    assert "9 drawn" in out.getvalue()
    assert len(list(card_storage.rglob("*.png"))) == 9


def test_the_page_shows_later_features_only_when_present(reference, frozen, owner):
    import json as jsonlib

    from wrapped.pages import page_html

    activity = reference.get("/v1/users/ann/wrapped", {"year": 2025}).json()["activity"]
    user = EndUser.objects.get(tenant=owner.tenant, external_id="ann")
    shared = sharing.Shared(owner.tenant, user, 2025, None, token="t")
    urls = {"story": "s.png", "square": "q.png", "og": "o.png"}

    plain = page_html(
        sharing.rendition_of(shared, jsonlib.dumps(activity), "h"), page_url="/", images=urls
    )
    activity["entireYear"]["points"] = {"xp": {"name": "XP", "changeThisPeriod": 1500}}
    activity["entireYear"]["achievements"] = [{"name": "First lesson", "badgeUrl": "/b.png"}]
    activity["entireYear"]["leaderboards"] = {"w": {"name": "Weekly words", "rank": 3}}
    full = page_html(
        sharing.rendition_of(shared, jsonlib.dumps(activity), "h"), page_url="/", images=urls
    )

    for heading in ("Points", "Achievements", "Best leaderboard ranks"):
        assert f">{heading}</h2>" not in plain and f">{heading}</h2>" in full
    assert "<dt>XP</dt><dd>1,500</dd>" in full and "<dd>#3</dd>" in full
    assert '<img src="/b.png"' in full and "First lesson" in full
