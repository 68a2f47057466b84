from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from wrapped.urls import page_urlpatterns

urlpatterns = [
    path("v1/", include("wrapped.urls")),
    path("v1/", include("events.api.urls")),  # ends with the JSON 404 of /v1/
    path("admin-api/v1/", include("events.api.admin_api_urls")),
    path("w/", include(page_urlpatterns)),  # public share pages and cards
    path(settings.ADMIN_URL, admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
# Uploaded logos, served by Django only in development (DEBUG); in production by the web
# server or the storage's own URLs (docs/operations.md).
urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler400 = "events.api.errors.json_bad_request"
handler404 = "events.api.errors.json_not_found"
handler500 = "events.api.errors.json_server_error"
