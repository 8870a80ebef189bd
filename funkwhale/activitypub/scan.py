"""Scanning a remote library: a durable task walks its collection page by page (following `next`, never `last`),
signed as the service actor, storing each Audio as a remote upload (ingest.py). Progress and the next page are
kept on the `library_scan` row, so a task that is retried or restarted resumes where it stopped. Once the walk
reaches the end, the library's uploads that no page listed any more (and no activity touched since the scan
began) are removed. The task runs in the worker, never in a web request.
"""

from __future__ import annotations

from typing import Any

from twisted.logger import Logger

from funkwhale.activitypub import actors, ingest, ingest_store, scan_store
from funkwhale.activitypub.fetch import Fetcher, FetchError
from funkwhale.activitypub.remote_actors import same_origin
from funkwhale.context import Context
from funkwhale.errors import Invalid
from funkwhale.music.uploads import remove_media
from funkwhale.tasks import queue

log = Logger()

MAX_PAGES = 1000  # per run of the task: a longer walk (50,000 Audio) ends there, errored, and prunes nothing
MAX_ITEMS_PER_PAGE = 500


async def start_scan(ctx: Context, library_id: int, actor_id: int | None) -> str:
    """Create a scan of the remote library `library_id` (asked for by actor `actor_id`, None for the instance)
    and queue its task; the scan's uuid."""
    scan_uuid, message = await ctx.db.run(scan_store.create_scan_txn, library_id, actor_id, desc="scan.create")
    await queue.push(ctx, message)
    return scan_uuid


def _link(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else None


async def _progress(ctx: Context, scan_id: int, **values: Any) -> None:
    await ctx.db.run(scan_store.progress_txn, scan_id, values, desc="scan.progress")


async def run_scan(ctx: Context, scan_id: int) -> None:
    """The scan task: walk the library from the scan's next page (or its first), then prune and finish."""
    scan = await ctx.db.run(scan_store.scan_txn, scan_id, desc="scan.get")
    if scan is None or scan["status"] in ("finished", "errored"):
        return
    library = await ctx.db.run(ingest_store.remote_library_txn, scan["library_id"], desc="scan.library")
    if library is None or library["is_local"]:
        await _progress(ctx, scan_id, status="errored", last_error="not a remote library")
        return
    fetcher = Fetcher.from_settings(ctx.settings)
    signer = await actors.signer(ctx)
    try:
        url = scan["next_page"]
        if url is None:
            collection = await fetcher.get_object(library["fid"], signer=signer)
            found = ingest.parse_library(collection)
            await ctx.db.run(scan_store.set_uploads_count_txn, library["id"], found.uploads_count, desc="scan.count")
            await _progress(ctx, scan_id, status="scanning", total_files=found.uploads_count)
            url = _link(collection, "first")
        complete = await _walk(ctx, fetcher, signer, scan_id, library, url)
    except FetchError as e:
        await _progress(ctx, scan_id, last_error=str(e)[:1000])
        raise  # retried with backoff; the next run resumes from next_page
    except Invalid as e:
        await _progress(ctx, scan_id, status="errored", last_error=e.detail[:1000])
        return
    if complete:
        _, files = await ctx.db.run(
            ingest_store.delete_unseen_uploads_txn, library["id"], scan["creation_date"], desc="scan.prune"
        )
        await remove_media(ctx, files)
        await _progress(ctx, scan_id, status="finished", next_page=None)


async def _walk(
    ctx: Context, fetcher: Fetcher, signer: Any, scan_id: int, library: dict[str, Any], url: str | None
) -> bool:
    """Ingest pages from `url` on; True once the last page is done, False when the page cap ended the scan."""
    seen: set[str] = set()
    while url is not None:
        if len(seen) >= MAX_PAGES:
            await _progress(ctx, scan_id, status="errored", last_error=f"stopped after {MAX_PAGES} pages")
            return False
        if not same_origin(url, library["fid"]) or url in seen:
            raise Invalid(f"the page {url} is not a new page of {library['fid']}", code="invalid_document")
        seen.add(url)
        page = await fetcher.get_object(url, signer=signer)
        items = page.get("items", page.get("orderedItems"))
        if not isinstance(items, list):
            raise Invalid(f"the page {url} has no items", code="invalid_document")
        refused = await ingest.ingest_page(ctx, items[:MAX_ITEMS_PER_PAGE], library)
        for reason in refused[:5]:
            log.info("scan of {library}: refused {reason}", library=library["fid"], reason=reason)
        url = _link(page, "next")
        total = page.get("totalItems")
        await _progress(
            ctx,
            scan_id,
            processed=min(len(items), MAX_ITEMS_PER_PAGE),
            errored=len(refused),
            next_page=url,
            **({"total_files": total} if isinstance(total, int) and 0 <= total < 2**31 else {}),
        )
    return True
