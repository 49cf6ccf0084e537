"""URLs: paystack-django's webhook view at /paystack/webhook/, as its README wires it."""
from django.urls import include, path

urlpatterns = [
    path("paystack/", include("djpaystack.webhooks.urls")),
]
