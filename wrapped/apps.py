from django.apps import AppConfig


class WrappedConfig(AppConfig):
    name = "wrapped"
    verbose_name = "Wrapped (year in review)"
