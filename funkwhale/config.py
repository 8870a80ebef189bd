"""Settings: one frozen dataclass, read from command-line options, FUNKWHALE_* variables and an ini file.

Precedence, highest first: command-line option, environment variable, ini file (section ``[funkwhale]``,
lower-case keys), default. Every default works on the embedded setup. A wrong value raises ConfigError
with one line that names the setting.
"""

from __future__ import annotations

import configparser
import dataclasses
import ipaddress
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROLES = ("all", "web", "worker", "scheduler")
REGISTRATION_MODES = ("open", "closed", "invitation")
REVERSE_PROXIES = ("none", "nginx")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warn", "error", "critical")


class ConfigError(Exception):
    """A setting has a value the daemon cannot use; the message is one line for the operator."""


def _at_least(minimum: int) -> Callable[[str, str], int]:
    """A parser of an integer setting of `minimum` or more."""

    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {value}")
        return value

    return parse


_positive_int = _at_least(1)


def _optional_positive_int(name: str, raw: str) -> int | None:
    return _positive_int(name, raw) if raw.strip() else None
_count = _at_least(0)  # a number of processes, 0 or more


def _process_range(name: str, raw: str) -> tuple[int, int]:
    """`min,max` worker processes, or one number for a fixed count; 0 runs the worker in the daemon itself."""
    parts = [part.strip() for part in raw.split(",")]
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        raise ConfigError(f"{name} must be MIN,MAX or a number of processes, got {raw!r}") from None
    if len(numbers) not in (1, 2) or min(numbers) < 0 or numbers[0] > numbers[-1]:
        raise ConfigError(f"{name} must be MIN,MAX with 0 <= MIN <= MAX, or one number, got {raw!r}")
    return numbers[0], numbers[-1]


def _umask(name: str, raw: str) -> int:
    """An octal umask such as 077 or 027; the owner must keep read and write access."""
    try:
        value = int(raw.strip(), 8)
    except ValueError:
        raise ConfigError(f"{name} must be an octal umask such as 077 or 027, got {raw!r}") from None
    if not 0 <= value <= 0o077:
        raise ConfigError(f"{name} must leave the owner's permissions alone (at most 077), got {raw!r}")
    return value


def _choice(choices: tuple[str, ...]) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {raw!r}")
        return value

    return parse


def _boolean(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _url(schemes: tuple[str, ...]) -> Callable[[str, str], str | None]:
    def parse(name: str, raw: str) -> str | None:
        if not raw:
            return None
        parts = urlsplit(raw)
        if parts.scheme not in schemes:
            raise ConfigError(f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}")
        return raw

    return parse


def _text(name: str, raw: str) -> str:
    return raw.strip()


def _optional_text(name: str, raw: str) -> str | None:
    return raw.strip() or None


def _csv(name: str, raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _networks(name: str, raw: str) -> tuple[str, ...]:
    """Comma-separated addresses or networks (10.0.0.0/8), each checked."""
    values = _csv(name, raw)
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ConfigError(f"{name} must list IP addresses or networks, got {value!r}") from None
    return values


def _setting(parse: Callable[[str, str], Any], default: Any = None, *, help: str = "", env: str = "") -> Any:
    """A setting read from FUNKWHALE_<NAME>, or from `env` for the ones that keep Funkwhale's own names
    (AWS_*, PROXY_MEDIA)."""
    return field(default=default, metadata={"parse": parse, "help": help, "env": env})


def env_name(f: dataclasses.Field[Any]) -> str:
    """The environment variable of a setting."""
    return f.metadata.get("env") or f"FUNKWHALE_{f.name.upper()}"


@dataclass(frozen=True)
class Settings:
    """Everything the daemon and the CLI are configured with."""

    data_dir: str = _setting(_text, "./data", help="where the embedded servers, media and secrets live")
    listen: str = _setting(_text, "tcp:5000:interface=127.0.0.1", help="strports description of the web listener")
    role: str = _setting(_choice(ROLES), "all", help="all | web | worker | scheduler")
    hostname: str = _setting(_text, "localhost:5000", help="public host name (federation ids, links)")
    protocol: str = _setting(_choice(("http", "https")), "http", help="public URL scheme")
    database_url: str | None = _setting(_url(("postgres", "postgresql")), None, help="unset: embedded PostgreSQL")
    redis_url: str | None = _setting(_url(("redis", "unix")), None, help="unset: embedded Redis")
    media_root: str | None = _setting(_optional_text, None, help="default DATA_DIR/media")
    secret_key: str | None = _setting(_optional_text, None, help="default: generated once into DATA_DIR")
    registration: str = _setting(_choice(REGISTRATION_MODES), "closed", help="open | closed | invitation")
    worker_concurrency: int = _setting(_positive_int, 4, help="tasks run at once per worker process")
    worker_processes: tuple[int, int] = _setting(
        _process_range,
        (0, 0),
        help="MIN,MAX worker processes the worker role supervises, grown with the queue's backlog "
        "(default 0,2 for --role all: none while idle; 1,<cores> for --role worker; 0: tasks run in the daemon "
        "itself)",
    )
    web_processes: int = _setting(
        _count,
        1,
        help="processes serving HTTP on the one listener in the web role, this one included (default: the number of "
        "cores; 0 or 1: this process only)",
    )
    worker_idle_timeout: int = _setting(
        _positive_int, 30, help="seconds a supervised worker process is idle before it is retired (down to MIN)"
    )
    worker_heartbeat_ttl: int = _setting(
        _positive_int,
        30,
        help="seconds after which a worker process that stopped beating (killed, its machine gone) is presumed dead "
        "and its in-flight tasks go back on the queue; workers beat and schedulers check every third of it",
    )
    io_threads: int = _setting(_positive_int, 8, help="threads for the file I/O of requests (audio, pictures)")
    cpu_threads: int = _setting(
        _positive_int, max(2, os.cpu_count() or 1), help="threads for tags, pictures, hashing, passwords, keys"
    )
    # unset: `pool_size` (4, or for the web alone two statements at once per core, shared by the web processes)
    db_pool_size: int | None = _setting(
        _optional_positive_int,
        None,
        help="PostgreSQL connections per process (default: 4; 2 x cores over the web processes, at least 2, "
        "in a process that only serves the web)",
    )
    db_prepared_statements: bool = _setting(
        _boolean,
        True,
        help="plan each catalog statement once per connection (PREPARE); off behind a pooler that hands a "
        "transaction any server connection (PgBouncer's transaction mode)",
    )
    log_format: str = _setting(_choice(LOG_FORMATS), "text", help="text | json")
    log_level: str = _setting(_choice(LOG_LEVELS), "info", help="debug | info | warn | error | critical")
    reverse_proxy: str = _setting(_choice(REVERSE_PROXIES), "none", help="nginx: answer media with X-Accel-Redirect")
    trusted_proxies: tuple[str, ...] = _setting(
        _networks,
        ("127.0.0.1", "::1"),
        help="with a reverse proxy, the proxies whose X-Real-IP / X-Forwarded-For give the client address",
    )
    email_url: str = _setting(
        lambda name, raw: _url(("console", "smtp"))(name, raw) or "console://",
        "console://",
        help="how e-mail leaves: console:// logs it, smtp://user:password@host:587?tls=true sends it",
    )
    music_directories: tuple[str, ...] = _setting(
        _csv, (), help="server folders that `funkwhale import --in-place` may reference (comma-separated)"
    )
    ffmpeg: str | None = _setting(_optional_text, None, help="ffmpeg binary; default the one of imageio-ffmpeg")
    static_root: str | None = _setting(
        _optional_text, None, help="the built web app; default static/dist of the source tree or working directory"
    )
    upload_max_size: int = _setting(_positive_int, 1024**3, help="largest upload body in bytes")
    upload_max_concurrent_per_user: int = _setting(
        _positive_int, 4, help="upload bodies one user may send at once (one more gets 429)"
    )
    body_timeout: int = _setting(_positive_int, 30, help="seconds a request body may send nothing before it is dropped")
    body_min_rate: int = _setting(
        _positive_int, 1024, help="bytes/s a request body must average once it has taken FUNKWHALE_BODY_TIMEOUT"
    )
    default_upload_quota: int = _setting(_positive_int, 10000, help="per-user quota in MB")
    node_name: str = _setting(_text, "Funkwhale", help="instance name shown in nodeinfo")
    login_rate_limit: int = _setting(_positive_int, 30, help="wrong passwords per hour per account and per address")
    signup_rate_limit: int = _setting(_positive_int, 10, help="sign-ups per day per address")
    transcode_max_per_user: int = _setting(
        _positive_int, 3, help="live ffmpeg transcodes one listener may run at once (cached ones do not count)"
    )
    transcode_max_total: int = _setting(
        _positive_int,
        max(4, 2 * (os.cpu_count() or 1)),
        help="live ffmpeg transcodes per web process (default: 2 x CPU cores, at least 4)",
    )
    metrics: bool = _setting(
        _boolean, False, help="serve /metrics (Prometheus' text format); needs METRICS_TOKEN or METRICS_LISTEN"
    )
    metrics_token: str | None = _setting(
        _optional_text, None, help="Bearer token /metrics asks for (at least 16 characters); on the web listener, "
        "/metrics is served only with a token"
    )
    metrics_listen: str | None = _setting(
        _optional_text, None, help="strports description of a listener that serves only /metrics (e.g. "
        "tcp:9090:interface=127.0.0.1); the token is asked there too when set"
    )
    shutdown_timeout: int = _setting(_positive_int, 10, help="seconds to drain running tasks at shutdown")
    umask: int = _setting(
        _umask, 0o077, help="umask of the daemon and the CLI (octal): 077 private, 027 to let nginx's group read media"
    )
    check_migrations: bool = _setting(_boolean, True, help="refuse to start below the latest migration")
    external_requests_allow_private_networks: bool = _setting(
        _boolean, False, help="let federation requests reach loopback and private addresses (test peers only)"
    )
    external_requests_verify_ssl: bool = _setting(
        _boolean, True, help="verify the TLS certificates of federation peers (system trust, SSL_CERT_FILE)"
    )
    # Media in an S3-compatible bucket (Funkwhale's names): set AWS_STORAGE_BUCKET_NAME to use one.
    aws_access_key_id: str | None = _setting(_optional_text, None, help="S3 access key", env="AWS_ACCESS_KEY_ID")
    aws_secret_access_key: str | None = _setting(
        _optional_text, None, help="S3 secret key", env="AWS_SECRET_ACCESS_KEY"
    )
    aws_storage_bucket_name: str | None = _setting(
        _optional_text, None, help="media bucket; unset: media under MEDIA_ROOT", env="AWS_STORAGE_BUCKET_NAME"
    )
    aws_s3_endpoint_url: str | None = _setting(
        _url(("http", "https")), None, help="S3 endpoint (MinIO, Garage...); unset: AWS", env="AWS_S3_ENDPOINT_URL"
    )
    aws_s3_region_name: str | None = _setting(_optional_text, None, help="S3 region", env="AWS_S3_REGION_NAME")
    aws_location: str = _setting(
        lambda name, raw: raw.strip().strip("/"), "", help="key prefix of media in the bucket", env="AWS_LOCATION"
    )
    aws_querystring_auth: bool = _setting(
        _boolean, True, help="sign media URLs (false: a public bucket's plain URLs)", env="AWS_QUERYSTRING_AUTH"
    )
    aws_querystring_expire: int = _setting(
        _positive_int, 3600, help="seconds a signed media URL stays valid", env="AWS_QUERYSTRING_EXPIRE"
    )
    proxy_media: bool = _setting(
        _boolean,
        True,
        help="bucket media go through the daemon (nginx: X-Accel-Redirect); false: redirect to a signed URL",
        env="PROXY_MEDIA",
    )

    @property
    def embedded_postgres(self) -> bool:
        return self.database_url is None

    @property
    def embedded_redis(self) -> bool:
        return self.redis_url is None

    @property
    def media_path(self) -> Path:
        return Path(self.media_root) if self.media_root else Path(self.data_dir) / "media"

    @property
    def media_bucket(self) -> bool:
        """Whether media live in an S3-compatible bucket rather than under MEDIA_ROOT."""
        return bool(self.aws_storage_bucket_name)

    @property
    def base_url(self) -> str:
        return f"{self.protocol}://{self.hostname}"

    @property
    def domain(self) -> str:
        return self.hostname.split(":")[0] if self.hostname.count(":") == 1 else self.hostname


SETTING_NAMES = tuple(f.name for f in dataclasses.fields(Settings))


def describe() -> list[tuple[str, str, Any]]:
    """(ENV_NAME, help, default) for each setting: used by docs and `funkwhale config`."""
    return [(env_name(f), f.metadata["help"], f.default) for f in dataclasses.fields(Settings)]


def _read_ini(path: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    except configparser.Error as e:
        raise ConfigError(f"config file {path} is not a valid ini file: {str(e).splitlines()[0]}") from None
    if not parser.has_section("funkwhale"):
        raise ConfigError(f"config file {path} has no [funkwhale] section")
    values = dict(parser.items("funkwhale"))
    unknown = sorted(set(values) - set(SETTING_NAMES))
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting {unknown[0]!r}")
    return values


def load_settings(
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str | None] | None = None,
    config_file: str | None = None,
    defaults: Mapping[str, str] | None = None,
) -> Settings:
    """Build validated Settings from an ini file, the environment and explicit overrides (CLI options);
    `defaults` replace the built-in defaults (lowest precedence)."""
    environ = os.environ if environ is None else environ
    config_file = config_file or environ.get("FUNKWHALE_CONFIG") or None
    raw: dict[str, str] = dict(defaults or {})
    raw.update(_read_ini(config_file) if config_file else {})
    for f in dataclasses.fields(Settings):
        value = environ.get(env_name(f))
        if value is not None:
            raw[f.name] = value
    for name, value in (overrides or {}).items():
        if value is not None:
            raw[name] = value
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        if f.name in raw:
            values[f.name] = f.metadata["parse"](env_name(f), raw[f.name])
    if "worker_processes" not in values:
        values["worker_processes"] = default_worker_processes(values.get("role", "all"))
    values.setdefault("web_processes", os.cpu_count() or 1)
    settings = Settings(**values)
    _check_listen(settings.listen)
    _check_metrics(settings)
    return dataclasses.replace(settings, data_dir=str(Path(settings.data_dir).expanduser().resolve()))


def pool_size(settings: Settings) -> int:
    """The PostgreSQL connections of this process's pool: FUNKWHALE_DB_POOL_SIZE when set; else, in a process that
    only serves the web (role web, or a web child), two statements at once per core shared by the web processes
    (at least 2), and 4 in the others (tasks run beside). More connections than the cores can run only make the
    backends take turns on them: on 2 cores and 2 web processes, 2 connections each instead of 4 cost 5-8 % less
    PostgreSQL CPU per request at c=16 and cut the p99 by a third (REST lists and search, bench/side_by_side.py's
    library; 10 cost 5-14 % more than 4)."""
    if settings.db_pool_size is not None:
        return settings.db_pool_size
    if settings.role == "web":
        return max(2, -(-2 * (os.cpu_count() or 1) // settings.web_processes))
    return 4


def default_worker_processes(role: str) -> tuple[int, int]:
    """A worker supervises 1 to <cores> processes; the embedded default (`all`) 0 to 2, beside web and scheduler:
    an idle instance runs no worker process, one starts when a task is queued. `Settings()` itself keeps (0, 0),
    the worker in the same process: what tests build in-process."""
    if role == "worker":
        return 1, max(1, os.cpu_count() or 1)
    return (0, 2) if role == "all" else (0, 0)


def to_environ(settings: Settings) -> dict[str, str]:
    """The FUNKWHALE_* variables that `load_settings` reads back into `settings` (a supervised worker's settings)."""
    env = {}
    for f in dataclasses.fields(Settings):
        value = getattr(settings, f.name)
        if value is None:
            text = ""
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, tuple):
            text = ",".join(str(part) for part in value)
        elif f.name == "umask":
            text = f"{value:03o}"
        else:
            text = str(value)
        env[env_name(f)] = text
    return env


def _check_listen(listen: str, name: str = "FUNKWHALE_LISTEN") -> None:
    from twisted.internet import reactor
    from twisted.internet.endpoints import serverFromString

    try:
        serverFromString(reactor, listen)
    except (ValueError, TypeError, KeyError) as e:
        raise ConfigError(f"{name} {listen!r} is not a valid endpoint description: {e}") from None


MIN_METRICS_TOKEN = 16


def _check_metrics(settings: Settings) -> None:
    """Metrics are never public: on, they need a token or a listener of their own."""
    if settings.metrics_listen:
        _check_listen(settings.metrics_listen, "FUNKWHALE_METRICS_LISTEN")
    if settings.metrics_token is not None and len(settings.metrics_token) < MIN_METRICS_TOKEN:
        raise ConfigError(f"FUNKWHALE_METRICS_TOKEN must have at least {MIN_METRICS_TOKEN} characters")
    if settings.metrics and not (settings.metrics_token or settings.metrics_listen):
        raise ConfigError("FUNKWHALE_METRICS needs FUNKWHALE_METRICS_TOKEN or FUNKWHALE_METRICS_LISTEN")


def ensure_secret_key(settings: Settings) -> Settings:
    """Return settings with a secret key: the configured one, or one generated once into DATA_DIR."""
    if settings.secret_key:
        return settings
    path = Path(settings.data_dir) / "secret_key"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        key = path.read_text().strip()
    except FileExistsError:
        key = path.read_text().strip()
    except OSError as e:
        raise ConfigError(f"cannot write the secret key into {path}: {e.strerror}") from None
    return dataclasses.replace(settings, secret_key=key)


PUBLIC_ADDRESS_FILE = "public_address"


def record_public_address(settings: Settings) -> None:
    """Write `DATA_DIR/public_address` (`protocol://hostname`): the address the daemon makes federation ids under.

    Commands run on the same data directory without FUNKWHALE_HOSTNAME / FUNKWHALE_PROTOCOL take it as their
    default (`recorded_public_address`), so an account made by `funkwhale createuser` gets the daemon's ids.
    """
    path = Path(settings.data_dir) / PUBLIC_ADDRESS_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(settings.base_url + "\n")
    except OSError as e:
        raise ConfigError(f"cannot write {path}: {e.strerror}") from None


def recorded_public_address(data_dir: str) -> dict[str, str]:
    """{"protocol", "hostname"} as the daemon last recorded them in `data_dir` ({} when it never ran there)."""
    try:
        recorded = (Path(data_dir) / PUBLIC_ADDRESS_FILE).read_text().strip()
    except OSError:
        return {}
    protocol, sep, hostname = recorded.partition("://")
    return {"protocol": protocol, "hostname": hostname} if sep and hostname else {}
