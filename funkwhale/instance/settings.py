"""Instance settings: the preferences an administrator changes at run time (Funkwhale's dynamic preferences).

Each preference has a default (some taken from the daemon's Settings) and may be overridden by a row in
`instance_setting`. The public ones are listed at `GET /api/v1/instance/settings/`; all of them are read and
written by superusers at `/api/v1/instance/admin/settings/`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from funkwhale import cache
from funkwhale.config import Settings
from funkwhale.context import Context
from funkwhale.instance import store

# Funkwhale's report types (moderation/models.py REPORT_TYPES), in its order.
REPORT_TYPES = (
    ("takedown_request", "Takedown request"),
    ("invalid_metadata", "Invalid metadata"),
    ("illegal_content", "Illegal content"),
    ("offensive_content", "Offensive content"),
    ("other", "Other"),
)

# kind -> (form field class, widget class, input type) as dynamic-preferences describes them to the SPA.
_FIELDS: dict[str, tuple[str, str, str | None]] = {
    "boolean": ("BooleanField", "CheckboxInput", "checkbox"),
    "string": ("CharField", "TextInput", "text"),
    "text": ("CharField", "Textarea", None),
    "integer": ("IntegerField", "NumberInput", "number"),
    "choices": ("MultipleChoiceField", "SelectMultiple", None),
    "json": ("JSONField", "Textarea", None),
    "image": ("ImageField", "ClearableFileInput", "file"),
}


class InvalidValue(ValueError):
    """A value a preference cannot take; the message is for the field error."""


@dataclass(frozen=True)
class Preference:
    section: str
    name: str
    kind: str
    verbose_name: str
    help_text: str = ""
    default: Any = None
    from_settings: Callable[[Settings], Any] | None = None
    public: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    minimum: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def identifier(self) -> str:
        return f"{self.section}__{self.name}"

    def default_for(self, settings: Settings) -> Any:
        return self.from_settings(settings) if self.from_settings is not None else self.default

    def clean(self, value: Any) -> Any:
        """The value as stored, or InvalidValue."""
        if self.kind == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise InvalidValue("Must be a valid boolean.")
        if self.kind in ("string", "text"):
            if not isinstance(value, str):
                raise InvalidValue("Not a valid string.")
            return value
        if self.kind == "integer":
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise InvalidValue("A valid integer is required.") from None
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise InvalidValue("A valid integer is required.")
            if self.minimum is not None and number < self.minimum:
                raise InvalidValue(f"Ensure this value is greater than or equal to {self.minimum}.")
            return number
        if self.kind == "choices":
            allowed = {key for key, _ in self.choices}
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidValue("Expected a list of items.")
            wrong = [v for v in value if v not in allowed]
            if wrong:
                raise InvalidValue(f'"{wrong[0]}" is not a valid choice.')
            return value
        if self.kind == "image":
            if value is None or (isinstance(value, str) and value.startswith(("http://", "https://"))):
                return value
            raise InvalidValue("Expected an image URL or null.")
        return value  # json: any JSON value

    def describe(self, settings: Settings, value: Any) -> dict[str, Any]:
        """The preference as dynamic-preferences' serializer renders it."""
        field_class, widget, input_type = _FIELDS[self.kind]
        additional: dict[str, Any] = dict(self.extra)
        if self.choices:
            additional["choices"] = [list(choice) for choice in self.choices]
        return {
            "section": self.section,
            "name": self.name,
            "identifier": self.identifier,
            "default": self.default_for(settings),
            "value": value,
            "verbose_name": self.verbose_name,
            "help_text": self.help_text,
            "additional_data": additional,
            "field": {"class": field_class, "widget": {"class": widget}, "input_type": input_type},
        }


def _p(identifier: str, kind: str, verbose_name: str, help_text: str = "", **kw: Any) -> Preference:
    section, _, name = identifier.partition("__")
    return Preference(section, name, kind, verbose_name, help_text, **kw)


PREFERENCES: tuple[Preference, ...] = (
    _p(
        "instance__name",
        "string",
        "Public name",
        "The public name of your instance, displayed in the about page.",
        from_settings=lambda s: s.node_name,
        public=True,
    ),
    _p(
        "instance__short_description",
        "string",
        "Short description",
        "Instance succinct description, displayed in the about page.",
        default="",
        public=True,
    ),
    _p(
        "instance__long_description",
        "text",
        "Long description",
        "Instance long description, displayed in the about page.",
        default="",
        public=True,
    ),
    _p(
        "instance__terms",
        "text",
        "Terms of service",
        "Terms of service and privacy policy for your instance.",
        default="",
        public=True,
    ),
    _p("instance__rules", "text", "Rules", "Rules/Code of Conduct.", default="", public=True),
    _p(
        "instance__contact_email",
        "string",
        "Contact email",
        "A contact e-mail address for visitors who need to contact an admin or moderator.",
        default="",
        public=True,
    ),
    _p("instance__banner", "image", "Banner image", "Large image displayed in the about page.", public=True),
    _p(
        "instance__funkwhale_support_message_enabled",
        "boolean",
        "Funkwhale support message",
        "If this is enabled, we will periodically display a message to encourage local users to support Funkwhale.",
        default=True,
        public=True,
    ),
    _p(
        "instance__instance_support_message",
        "text",
        "Instance support message",
        "A short message that will be displayed periodically to local users.",
        default="",
        public=True,
    ),
    _p(
        "instance__nodeinfo_enabled",
        "boolean",
        "Enable nodeinfo endpoint",
        "This endpoint is needed for your about page to work. It's also helpful for the various monitoring "
        "tools that map and analyze the fediverse, but you can disable it completely if needed.",
        default=True,
    ),
    _p(
        "instance__nodeinfo_private",
        "boolean",
        "Private mode in nodeinfo",
        "Indicate in the nodeinfo endpoint that you do not want your instance to be tracked by third-party services.",
        default=False,
    ),
    _p(
        "instance__nodeinfo_stats_enabled",
        "boolean",
        "Enable usage and library stats in nodeinfo endpoint",
        "Disable this if you don't want to share usage and library statistics in the nodeinfo endpoint but "
        "don't want to disable it completely.",
        default=True,
    ),
    _p(
        "users__registration_enabled",
        "boolean",
        "Open registrations to new users",
        "When enabled, new users will be able to register on this instance.",
        from_settings=lambda s: s.registration == "open",
        public=True,
    ),
    _p(
        "users__upload_quota",
        "integer",
        "Upload quota",
        "Default upload quota applied to each users, in MB. This can be overridden on a per-user basis.",
        from_settings=lambda s: s.default_upload_quota,
        public=True,
        minimum=0,
    ),
    _p(
        "moderation__signup_approval_enabled",
        "boolean",
        "Enable manual sign-up validation",
        "When enabled, new registrations will go to a moderation queue and need to be reviewed by moderators.",
        default=False,
        public=True,
    ),
    _p(
        "moderation__signup_request_message",
        "text",
        "Sign-up request message",
        "A message displayed to users requesting an account.",
        default="",
    ),
    _p(
        "moderation__signup_form_customization",
        "json",
        "Sign-up form customization",
        "Configure custom fields and help text for your instance's sign-up form.",
        default={"help_text": {"text": "", "content_type": "text/markdown"}, "fields": []},
        public=True,
    ),
    _p(
        "moderation__allow_list_enabled",
        "boolean",
        "Enable allow-listing",
        "If enabled, only interactions with explicitly allowed domains will be authorized.",
        default=False,
        public=True,
    ),
    _p(
        "moderation__allow_list_public",
        "boolean",
        "Publish your allowed-domains list",
        "If enabled, allow-listed domains will be listed publicly in your nodeinfo endpoint.",
        default=False,
        public=True,
    ),
    _p(
        "moderation__unauthenticated_report_types",
        "choices",
        "Accountless report categories",
        "A list of categories for which external users (without an account) can submit a report.",
        default=["takedown_request", "illegal_content"],
        choices=REPORT_TYPES,
        public=True,
    ),
    _p(
        "common__api_authentication_required",
        "boolean",
        "API Requires authentication",
        "If disabled, anonymous users will be able to query the API and access music data (as well as other "
        "data exposed in the API without specific permissions).",
        default=True,
        public=True,
    ),
    _p(
        "federation__enabled",
        "boolean",
        "Federation enabled",
        "Use this setting to enable or disable federation logic and API globally.",
        default=True,
        public=True,
    ),
    _p(
        "federation__public_index",
        "boolean",
        "Enable public index",
        "If this is enabled, public channels and libraries will be crawlable by other pods and bots.",
        default=True,
    ),
    _p(
        "federation__collection_page_size",
        "integer",
        "Federation collection page size",
        "How many items to display in ActivityPub collections.",
        default=50,
        minimum=1,
    ),
    _p(
        "federation__music_cache_duration",
        "integer",
        "Music cache duration",
        "How long to hold cached copies of remote tracks on the disk, in minutes.",
        default=60 * 24 * 2,
        minimum=0,
    ),
    _p(
        "federation__actor_fetch_delay",
        "integer",
        "Federation actor fetch delay",
        "How much minutes to wait before refetching actors on request authentication.",
        default=60 * 12,
        minimum=0,
    ),
    _p(
        "subsonic__enabled",
        "boolean",
        "Enabled Subsonic API",
        "Funkwhale supports a subset of the Subsonic API, that makes it compatible with existing clients such "
        "as DSub for Android or Clementine for desktop. However, Subsonic protocol is less than ideal in terms "
        "of security and you can disable this feature completely using this flag.",
        default=True,
        public=True,
    ),
    _p(
        "music__transcoding_enabled",
        "boolean",
        "Transcoding enabled",
        "Enable transcoding of audio files in formats requested by the client.",
        default=True,
    ),
    _p(
        "music__transcoding_cache_duration",
        "integer",
        "Transcoding cache duration",
        "How long to keep transcoded files on the disk, in minutes.",
        default=60 * 24 * 7,
        minimum=0,
    ),
    _p(
        "audio__channels_enabled",
        "boolean",
        "Enable channels",
        "If disabled, the channels feature will be completely switched off.",
        default=True,
        public=True,
    ),
    _p("audio__max_channels", "integer", "Max channels allowed per user", default=20, minimum=0),
    _p("playlists__max_tracks", "integer", "Max tracks per playlist", default=250, minimum=1, public=True),
    _p(
        "ui__custom_css",
        "text",
        "Custom CSS code",
        "Custom CSS code, to be included in a <style> tag on all pages. Loading third-party resources such as "
        "fonts or images can affect the performance of the app and the privacy of your users.",
        default="",
        public=True,
    ),
)

BY_IDENTIFIER: dict[str, Preference] = {p.identifier: p for p in PREFERENCES}


def resolve(settings: Settings, stored: dict[str, Any]) -> dict[str, Any]:
    """identifier -> effective value: the stored override, else the default."""
    return {p.identifier: stored.get(p.identifier, p.default_for(settings)) for p in PREFERENCES}


async def stored_values(ctx: Context) -> dict[str, Any]:
    """The values an administrator set, by identifier: from the cache until one is saved (`save`)."""

    async def read() -> dict[str, Any]:
        return await ctx.db.run(store.stored_values_txn, desc="instance.settings")

    return await cache.cached(ctx, "prefs", "stored", [cache.PREFS], read, ttl=3600)


async def save(ctx: Context, cleaned: dict[str, Any]) -> dict[str, Any]:
    """Save checked values (`clean_updates`); every stored value after the save."""
    stored = await ctx.db.run(store.save_values_txn, cleaned, desc="instance.settings.save")
    await cache.invalidate(ctx, cache.PREFS)
    return stored


async def values(ctx: Context) -> dict[str, Any]:
    """Every preference's effective value, by identifier."""
    return resolve(ctx.settings, await stored_values(ctx))


async def get(ctx: Context, identifier: str) -> Any:
    """One preference's effective value."""
    pref = BY_IDENTIFIER[identifier]
    return (await stored_values(ctx)).get(identifier, pref.default_for(ctx.settings))


def mode_from(settings: Settings, registration_enabled: bool) -> str:
    """open when the preference allows sign-ups; otherwise invitation or closed, as FUNKWHALE_REGISTRATION says."""
    if registration_enabled:
        return "open"
    return "invitation" if settings.registration == "invitation" else "closed"


async def registration_mode(ctx: Context) -> str:
    """open, closed or invitation: FUNKWHALE_REGISTRATION unless an admin set users__registration_enabled."""
    return mode_from(ctx.settings, await get(ctx, "users__registration_enabled"))


def describe_all(settings: Settings, stored: dict[str, Any], public_only: bool) -> list[dict[str, Any]]:
    """The preferences as the API lists them, sorted by section then name (like Funkwhale)."""
    effective = resolve(settings, stored)
    prefs = sorted((p for p in PREFERENCES if p.public or not public_only), key=lambda p: (p.section, p.name))
    return [p.describe(settings, effective[p.identifier]) for p in prefs]


def clean_updates(updates: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Validate {identifier: value}: (clean values, field errors)."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for identifier, raw in updates.items():
        pref = BY_IDENTIFIER.get(identifier)
        if pref is None:
            errors[identifier] = ["Unknown preference."]
            continue
        try:
            cleaned[identifier] = pref.clean(raw)
        except InvalidValue as e:
            errors[identifier] = [str(e)]
    return cleaned, errors
