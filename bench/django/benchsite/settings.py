"""Settings of the paystack-django peer in malipo's ingest benchmark (bench/ingest).

A project as `django-admin startproject` makes it, plus paystack-django as its README says to
wire it. The driver sets:
- BENCH_DB: the SQLite file (a fresh one per run);
- BENCH_TRANSACTION_MODE: "" for Django's default (deferred) transactions, or "IMMEDIATE",
  Django's documented cure for "database is locked" under concurrent writers;
- BENCH_PAYSTACK_SECRET: the fake secret key the load generator signs webhooks with.

SQLite runs in WAL mode with synchronous=NORMAL: the same durability as malipo's default
(process-crash), so neither side pays an fsync per commit the other does not.
"""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "djpaystack",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "benchsite.urls"
WSGI_APPLICATION = "benchsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_options = {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
if os.environ.get("BENCH_TRANSACTION_MODE"):
    _options["transaction_mode"] = os.environ["BENCH_TRANSACTION_MODE"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BENCH_DB", str(BASE_DIR / "bench.db")),
        "OPTIONS": _options,
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
STATIC_URL = "static/"

PAYSTACK = {
    "SECRET_KEY": os.environ.get("BENCH_PAYSTACK_SECRET", "sk_test_bench_unset"),
    "PUBLIC_KEY": "pk_test_bench",
    "ENVIRONMENT": "test",
}
