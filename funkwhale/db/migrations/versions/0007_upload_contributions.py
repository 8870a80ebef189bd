"""What each upload contributed to the shared catalog: its cover (`upload.attachment_cover_id`, with the album it
went to in `upload.album_id`, so that an album's covers are one index walk away), the tags read
from its file (`tagged_item.upload_id`) and the track's license, copyright and comment (`upload.metadata`), so that
a viewer sees of an artist, album or track only what comes from uploads they may play, and deleting an upload takes
its contributions with it.

A `tagged_item` without `upload_id` is a tag set on the row itself (not read from a file); likewise the
`attachment_cover_id` of artist, album and track rows and a track's license, copyright and description are now only
what was set on the row itself.

Backfill: the importer used to tag the shared track and album rows and give the album the first cover it met.
Which upload brought a tag was not recorded, so each existing track tag goes to every upload of the track (album
tags to every upload of the album's tracks). An album cover goes to the uploads owned by whoever stored that
picture (`attachment.actor_id`), or to every upload of the album when none of them is theirs. A track's license,
copyright and description came from the upload that created the row: they go to its earliest upload.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE upload ADD COLUMN attachment_cover_id bigint REFERENCES attachment (id) ON DELETE SET NULL,
        ADD COLUMN album_id bigint REFERENCES album (id) ON DELETE SET NULL;
    UPDATE upload u SET album_id = t.album_id FROM track t WHERE t.id = u.track_id AND t.album_id IS NOT NULL;
    CREATE INDEX upload_attachment_cover ON upload (attachment_cover_id) WHERE attachment_cover_id IS NOT NULL;
    CREATE INDEX upload_album_cover ON upload (album_id, id) WHERE attachment_cover_id IS NOT NULL;

    ALTER TABLE tagged_item ADD COLUMN upload_id bigint REFERENCES upload (id) ON DELETE CASCADE;
    ALTER TABLE tagged_item DROP CONSTRAINT tagged_item_pkey;
    CREATE UNIQUE INDEX tagged_item_unique ON tagged_item (object_type, object_id, tag_id, coalesce(upload_id, 0));
    CREATE INDEX tagged_item_upload ON tagged_item (upload_id) WHERE upload_id IS NOT NULL;

    INSERT INTO tagged_item (tag_id, object_type, object_id, upload_id, creation_date)
    SELECT ti.tag_id, 'track', ti.object_id, u.id, ti.creation_date
    FROM tagged_item ti JOIN upload u ON u.track_id = ti.object_id
    WHERE ti.object_type = 'track' AND ti.upload_id IS NULL;
    INSERT INTO tagged_item (tag_id, object_type, object_id, upload_id, creation_date)
    SELECT ti.tag_id, 'album', ti.object_id, u.id, ti.creation_date
    FROM tagged_item ti JOIN track t ON t.album_id = ti.object_id JOIN upload u ON u.track_id = t.id
    WHERE ti.object_type = 'album' AND ti.upload_id IS NULL;
    DELETE FROM tagged_item WHERE object_type IN ('track', 'album') AND upload_id IS NULL;

    UPDATE upload u SET attachment_cover_id = al.attachment_cover_id
    FROM track t JOIN album al ON al.id = t.album_id JOIN attachment a ON a.id = al.attachment_cover_id
    WHERE u.track_id = t.id AND (
        a.actor_id = (SELECT actor_id FROM library WHERE id = u.library_id)
        OR NOT EXISTS (SELECT 1 FROM upload ou JOIN library ol ON ol.id = ou.library_id
                       JOIN track ot ON ot.id = ou.track_id WHERE ot.album_id = al.id AND ol.actor_id = a.actor_id)
    );
    UPDATE album SET attachment_cover_id = NULL WHERE attachment_cover_id IS NOT NULL;

    UPDATE upload u SET metadata = u.metadata || jsonb_strip_nulls(jsonb_build_object(
        'license', t.license, 'copyright', nullif(t.copyright, ''), 'description', nullif(t.description, '')))
    FROM track t
    WHERE u.track_id = t.id AND u.id = (SELECT min(id) FROM upload WHERE track_id = t.id)
      AND (t.license IS NOT NULL OR t.copyright <> '' OR t.description <> '');
    UPDATE track SET license = NULL, copyright = '', description = ''
    WHERE license IS NOT NULL OR copyright <> '' OR description <> '';
    """)


def downgrade() -> None:
    op.execute("""
    UPDATE track t SET license = coalesce(t.license, u.metadata ->> 'license'),
        copyright = coalesce(nullif(t.copyright, ''), u.metadata ->> 'copyright', ''),
        description = coalesce(nullif(t.description, ''), u.metadata ->> 'description', '')
    FROM upload u WHERE u.id = (SELECT min(id) FROM upload WHERE track_id = t.id);
    UPDATE album al SET attachment_cover_id = (
        SELECT u.attachment_cover_id FROM track t JOIN upload u ON u.track_id = t.id
        WHERE t.album_id = al.id AND u.attachment_cover_id IS NOT NULL ORDER BY u.id LIMIT 1
    ) WHERE al.attachment_cover_id IS NULL;
    DELETE FROM tagged_item a USING tagged_item b
    WHERE a.object_type = b.object_type AND a.object_id = b.object_id AND a.tag_id = b.tag_id
      AND coalesce(a.upload_id, 0) > coalesce(b.upload_id, 0);
    DROP INDEX tagged_item_upload, tagged_item_unique;
    ALTER TABLE tagged_item DROP COLUMN upload_id;
    ALTER TABLE tagged_item ADD PRIMARY KEY (object_type, object_id, tag_id);
    DROP INDEX upload_attachment_cover, upload_album_cover;
    ALTER TABLE upload DROP COLUMN attachment_cover_id, DROP COLUMN album_id;
    """)
