"""Admin API routes, mounted at /admin-api/v1/."""

urlpatterns: list = []
