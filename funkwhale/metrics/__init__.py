"""Prometheus metrics (`FUNKWHALE_METRICS`): what a web process measures itself (`http`), the instance-wide
counters every process adds to in Redis (`counters`), and what is read at scrape time (`scrape`)."""
