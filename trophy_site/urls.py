from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("v1/", include("wrapped.urls")),
    path("v1/", include("events.api.urls")),  # ends with the JSON 404 of /v1/
    path("admin-api/v1/", include("events.api.admin_api_urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]

handler400 = "events.api.errors.json_bad_request"
handler404 = "events.api.errors.json_not_found"
handler500 = "events.api.errors.json_server_error"
