"""The Subsonic / OpenSubsonic API at /rest (and Funkwhale's /api/subsonic/rest).

app.py (the Klein area: dispatch, envelope, errors), auth.py (u+p, u+t+s, apiKey), params.py, render.py (XML,
JSON, JSONP), errors.py (Subsonic codes), registry.py (`@endpoint`), ids.py (typed string ids), serializers.py
(song/album/artist/directory shapes), store.py (the SQL), and one module of endpoints per area.
"""
