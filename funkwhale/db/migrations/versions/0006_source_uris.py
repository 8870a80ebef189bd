"""In-place sources become real file URIs: their paths percent-encoded (`What?.mp3` was cut at the `?`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from pathlib import Path
from urllib.parse import unquote

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_IN_PLACE = sa.text("SELECT id, source FROM upload WHERE source LIKE 'file://%'")
_SET = sa.text("UPDATE upload SET source = :source WHERE id = :id")


def _rewrite(convert) -> None:
    bind = op.get_bind()
    for upload_id, source in bind.execute(_IN_PLACE).fetchall():
        new = convert(source.removeprefix("file://"))
        if new != source:
            bind.execute(_SET, {"source": new, "id": upload_id})


def upgrade() -> None:
    _rewrite(lambda raw: Path(raw).as_uri())  # written as f"file://{path}" before this revision


def downgrade() -> None:
    _rewrite(lambda quoted: "file://" + unquote(quoted))
