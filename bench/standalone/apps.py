"""App config of the standalone baseline (bench/standalone)."""

from django.apps import AppConfig


class StandaloneConfig(AppConfig):
    name = "bench.standalone"
    label = "bench_standalone"
    default_auto_field = "django.db.models.BigAutoField"
