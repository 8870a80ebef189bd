"""One domain refusal, funkwhale.errors.Invalid: every exception class the package defines for refused input is
it (or a subclass), and each surface maps it once (REST: Funkwhale's JSON bodies; Subsonic: its error codes)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest_twisted

import funkwhale
from funkwhale.errors import Invalid

from .subsonic_helpers import Subsonic

# Exceptions that are not refused input, each with why: infrastructure and process failures, protocol errors
# with their own wire shape, playback outcomes each surface words its own way, and parse signals the domain
# turns into Invalid before they leave it.
NOT_REFUSALS = {
    "funkwhale.config.ConfigError": "bad settings at startup",
    "funkwhale.db.pool.DatabaseUnavailable": "infrastructure",
    "funkwhale.db.pool.DatabaseUnreachable": "infrastructure",
    "funkwhale.db.schema.SchemaOutdated": "infrastructure",
    "funkwhale.embedded.EmbeddedError": "infrastructure",
    "funkwhale.cache_mirror.ReplyError": "infrastructure (Redis refused a command)",
    "funkwhale.cache_mirror._Incomplete": "a parse signal of Redis replies",
    "funkwhale.tasks.registry.UnknownTask": "a programming error in a task name",
    "funkwhale.users.cli.CliError": "a command line failure, printed",
    "funkwhale.web.errors.ApiError": "the REST surface's own error",
    "funkwhale.subsonic.errors.SubsonicError": "the Subsonic surface's own error",
    "funkwhale.users.oauth.flows.OAuthError": "RFC 6749's error body, not Funkwhale's",
    "funkwhale.music.playback.slots.TranscodesBusy": "playback outcome",
    "funkwhale.music.playback.transcode.TranscodeFailed": "playback outcome",
    "funkwhale.music.playback.respond.NothingPlayable": "playback outcome",
    "funkwhale.music.playback.respond.NoLocalFile": "playback outcome",
    "funkwhale.music.playback.respond.FileMissing": "playback outcome",
    "funkwhale.music.playback.remote.RemoteUnavailable": "playback outcome",
    "funkwhale.music.playback.remote.MediaRejected": "playback outcome",
    "funkwhale.music.playback.files.Unsatisfiable": "a Range header answered 416",
    "funkwhale.music.attachments.AttachmentNotFound": "a stored file gone",
    "funkwhale.music.attachments.images.InvalidImage": "parse signal (receive_picture: Invalid)",
    "funkwhale.music.uploads.multipart.FormError": "parse signal (uploads, attachments: Invalid)",
    "funkwhale.music.uploads.quota.QuotaReached": "parse signal (uploads: Invalid)",
    "funkwhale.instance.settings.InvalidValue": "parse signal (clean_updates: field errors)",
    "funkwhale.params.BadValue": "parse signal (each surface's params layer)",
    "funkwhale.music.models.MetadataError": "a file's tags, reported on the upload",
    "funkwhale.music.importer.fsimport.ImportError_": "a command line import failure",
    "funkwhale.activitypub.http.FederationError": "the federation routes' own error",
    "funkwhale.activitypub.signatures.SignatureError": "a peer's request signature, refused with its reason",
    "funkwhale.activitypub.signatures.BadSignature": "a peer's request signature, refused with its reason",
    "funkwhale.activitypub.fetch.FetchError": "an outgoing federation request that failed",
    "funkwhale.activitypub.fetch.BlockedAddress": "an outgoing federation request that failed",
    "funkwhale.activitypub.fetch.ResponseTooLarge": "an outgoing federation request that failed",
    "funkwhale.storage.base.StorageError": "infrastructure (the media bucket): 503",
    "funkwhale.storage.base.MediaMissing": "a stored file gone",
}


def _exception_classes() -> dict[str, type[BaseException]]:
    found = {}
    for module in pkgutil.walk_packages(funkwhale.__path__, "funkwhale."):
        if ".migrations." in module.name:
            continue
        loaded = importlib.import_module(module.name)
        for _, cls in inspect.getmembers(loaded, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__ == module.name:
                found[f"{module.name}.{cls.__qualname__}"] = cls
    return found


def test_every_refusal_is_invalid():
    """A new exception class is either an Invalid or a listed non-refusal (a subclass of one counts as it)."""
    classes = _exception_classes()
    assert "funkwhale.playlists.PlaylistError" in classes and "funkwhale.radios.RadioError" in classes
    listed = tuple(classes[name] for name in NOT_REFUSALS)
    assert len(listed) == len(NOT_REFUSALS)  # every listed class still exists
    strays = [name for name, cls in classes.items() if not issubclass(cls, Invalid) and not issubclass(cls, listed)]
    assert strays == []


def test_invalid_detail_and_code():
    assert Invalid.field("name", "Too long.").detail == "name: Too long."
    assert Invalid(fields={"non_field_errors": ["No."]}).detail == "No."
    assert Invalid("No such radio.", kind="not_found").code == "not_found"
    throttled = Invalid.throttled("sign-ups", 30)
    assert throttled.detail == "Too many sign-ups. Try again in 30 seconds." and throttled.retry_after == 30


@pytest_twisted.ensureDeferred
async def test_non_field_refusal_detail_is_the_message(client):
    """Bug: a sign-up refused as a whole read `"detail": "non_field_errors: The two password fields didn't
    match."` (the key leaked into the message), unlike login and uploads; now the message alone."""
    form = {"username": "dave", "email": "dave@example.org", "password1": "correct horse", "password2": "other"}
    resp = await client.post("/api/v1/auth/registration/", json_body=form)
    assert resp.code == 400
    assert resp.json == {
        "non_field_errors": ["The two password fields didn't match."],
        "detail": "The two password fields didn't match.",
        "code": "invalid",
    }


@pytest_twisted.ensureDeferred
async def test_subsonic_refuses_a_non_ascii_index(web_server, alice):
    """Bug: songIndexToRemove="²" passed the isdigit() check, then int() raised: error 0 "The server could not
    answer this request." with a logged traceback; now the parameter is named as the bad value."""
    api = Subsonic(web_server, alice)
    pid = (await api.ok("createPlaylist", name="Road"))["playlist"]["id"]
    for bad in ("²", "١", "-1", "x"):
        content = await api.json("updatePlaylist", {"playlistId": pid, "songIndexToRemove": bad})
        assert content["error"] == {"code": 0, "message": f"Invalid value for parameter songIndexToRemove: {bad!r}"}
    content = await api.json("updatePlaylist", {"playlistId": pid, "songIndexToRemove": "9" * 5000})
    assert content["error"]["code"] == 70  # no such entry, however large
