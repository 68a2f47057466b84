"""A standalone minimal DRF app: the benchmark's second baseline, what a user could run
instead of this service. Its own settings, URLs and WSGI entry; it imports nothing from
`trophy_site` or `events`."""
