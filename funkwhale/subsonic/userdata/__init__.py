"""The SQL (store.py) behind the Subsonic calls that keep or show a user's own data: stars, ratings, plays,
playlists, bookmarks, the play queue, accounts; and the media lookups (cover art, lyrics, avatars). The read
endpoints' SQL is funkwhale.subsonic.store."""
