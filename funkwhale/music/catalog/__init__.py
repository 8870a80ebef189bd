"""Browsing and searching the catalog: artists, albums, tracks and tags as a viewer may see them.

`store.py` holds the SQL (one statement per list, nested JSON built by PostgreSQL), `serializers.py` turns the
rows into Funkwhale's API v1 shapes, and `query.py` parses the list parameters shared by the web areas.
"""
