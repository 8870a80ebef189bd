"""twistd plugin stub: kept light because twistd imports every plugin, even for --help."""

from twisted.application.service import ServiceMaker

funkwhale = ServiceMaker(
    "funkwhale",
    "funkwhale.tap",
    "Federated music server: Funkwhale API v1, Subsonic and ActivityPub in one process",
    "funkwhale",
)
